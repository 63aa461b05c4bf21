"""Traffic generation: one model of people, devices and SDK-shaped bodies driven by a ``Choices`` (Hypothesis
draws or a seeded sampler), the edge cases and rule breakers, the strategies and the seeded bulk writer."""
