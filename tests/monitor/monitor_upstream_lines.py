"""Upstream rank-0 lines for the monitor tests.

T25_HIT, P25_SPEED and P1_SPEED are quoted verbatim from upstream issues (upstream-contracts.md §3.1).
UNSTABLE, DEVICE_MONITOR and the trainer lines are built from the upstream format strings quoted in
§3.3/§3.4 (no verbatim copy is published); the DeviceMonitor cpu_mem_gb of ~280 is the value
reported in cosmos-predict2.5 #132.
"""

T25_HIT = (
    "[02-17 13:51:53|INFO|cosmos_transfer2/_src/predict2/callbacks/iter_speed.py:57:on_training_step_end] "
    "Iteration 1: Hit counter: 1/200 | Loss: 0.0000 | Time: 114.03s"
)
P25_SPEED = (
    "[02-27 04:51:11|INFO|cosmos_predict2/_src/predict2/callbacks/iter_speed.py:86:every_n_impl] "
    "1500 : iter_speed 33.99 seconds per iteration | Loss: 0.0000"
)
P1_SPEED = (
    "[04-07 05:33:01|INFO|cosmos_predict1/diffusion/training/callbacks/iter_speed.py:80:every_n_impl] "
    "2000 : iter_speed 3.70 seconds per iteration | Loss: -0.7500"
)
# The T25 W&B callback's NaN/Inf report: CRITICAL, on every rank, tagged [RANK n] (§3.4);
# the source path is illustrative.
UNSTABLE = (
    "[02-17 14:02:10|CRITICAL|cosmos_transfer2/_src/imaginaire/callbacks/wandb_log.py:91:"
    "on_training_step_end] "
    "[RANK 3] Unstable loss nan at iteration 57 with is_image_batch: False"
)
# The T25 DeviceMonitor table every trainer.logging_iter (§3.4): a header line then a pandas table.
DEVICE_MONITOR = [
    "[02-27 04:51:11|INFO|cosmos_transfer2/_src/imaginaire/callbacks/device_monitor.py:152:every_n_impl] "
    "DeviceMonitor Stats:",
    "                              Avg      Max      Min",
    "cpu_mem_gb                 280.12   281.40   279.03",
    "peak_gpu_mem_gb             61.35    61.35    61.35",
    "peak_gpu_mem_reserved_gb    70.00    70.00    70.00",
    "nvml_used_gpu_mem_gb        72.10    72.30    71.90",
    "nvml_free_gpu_mem_gb         7.50     7.70     7.30",
    "temp                        61.00    66.00    57.00",
    "power                      512.30   601.00   430.00",
    "util                        98.00   100.00    95.00",
    "clock                     1980.00  1980.00  1980.00",
]
TRAINER_START = (
    "[02-17 13:50:01|INFO|cosmos_transfer2/_src/imaginaire/trainer.py:238:train] Starting training..."
)
TRAINER_DONE = (
    "[02-17 19:01:44|SUCCESS|cosmos_transfer2/_src/imaginaire/trainer.py:318:train] Done with training."
)
