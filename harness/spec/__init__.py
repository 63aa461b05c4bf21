"""Capture's contract as data and as a judge: the rules catalogue, the schemas, validation, body anatomy,
strict JSON text, what capture keeps per event, and its timestamp semantics (no I/O, no Hypothesis)."""
