"""The run queue: runs that wait for a GPU set (or CPU slots) and start on their own.

A queue entry is one JSON file under ``$COSMOS_TUI_HOME/queue/entries/`` (:mod:`.store`),
replaced whole under a lock, moving through ``queued -> starting -> started`` (or ``cancelled``
/ ``failed``). One dispatcher process at a time (:mod:`.dispatch`, its own session, started on
demand) claims the first ready entry, starts it through the same path as ``cosmos-tui run``
(preflight, record, supervisor, job lock) with ``CUDA_VISIBLE_DEVICES`` set, and writes the run
id back. The run record names its entry, so a dispatcher killed anywhere in between is
reconciled by the next one: no entry is started twice, none is lost. Resources
(:mod:`.resources`) are GPU sets or slots; sweeps (:mod:`.sweep`) expand a grid into entries.
"""
