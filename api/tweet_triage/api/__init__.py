"""The scoring HTTP API (`triage api`): predictions with confidence, word-level explanations, feedback, model info.

A thin FastAPI edge (:mod:`.app`) around plain, typed logic: :mod:`.explain` (word occlusion), :mod:`.service`
(scoring requests against whatever model is serving), :mod:`.feedback` (the feedback topic), :mod:`.auth`
(API keys for write endpoints), :mod:`.limits` (request size). Stateless: scale out with more workers or replicas.
"""
