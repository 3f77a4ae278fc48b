"""Retraining triggers: one policy (:mod:`.policy`), the request ledger and service (:mod:`.service`), and the
backends that run a retraining (:mod:`.backends`: local, Azure ML, record-only)."""
