"""The record of a run: the hash-chained audit log, the recorder that feeds it, the
journal of step outcomes, the redaction of secrets and the signed head."""
