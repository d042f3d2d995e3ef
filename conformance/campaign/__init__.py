"""Stage: the campaign — driving a target, checking what it says as it goes.

* :mod:`.results` — what a campaign found: divergences, samples, the minimal failure;
* :mod:`.session` — one target plus the oracle and coverage that watch it;
* :mod:`.machine` — the Hypothesis state machine over a session;
* :mod:`.tour` — the planned coverage tour; :mod:`.shrink` — shrinking its failures;
* :mod:`.coverage` — transitions and verb×status cells reached;
* :mod:`.observations` — how the target answered, cell by cell and plan by plan;
* :mod:`.run` — the tour then the exploration, as one campaign;
* :mod:`.parallel` — ``--jobs N`` campaigns in separate processes, merged;
* :mod:`.paired` — two builds given the same steps, and :mod:`.compare` — what differs in
  what they did (``jobcheck compare``).

A new check that needs a live exchange (rather than a trace) goes here; everything a
campaign finds is handed on in its :class:`~.results.CampaignResult`.
"""
