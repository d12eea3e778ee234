"""Custom search attributes the training-run workflow sets (registered by ``arkor-temporal setup``).

Search attributes are stored in plaintext: only ids, names and numbers go here.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

JOB_ID = SearchAttributeKey.for_keyword("ArkorJobId")
RUN_NAME = SearchAttributeKey.for_keyword("ArkorRunName")
MODEL = SearchAttributeKey.for_keyword("ArkorModel")
PHASE = SearchAttributeKey.for_keyword("ArkorPhase")
STEP = SearchAttributeKey.for_int("ArkorStep")
BEST_EVAL = SearchAttributeKey.for_float("ArkorBestEval")

ALL = (JOB_ID, RUN_NAME, MODEL, PHASE, STEP, BEST_EVAL)
