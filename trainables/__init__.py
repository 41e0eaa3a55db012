"""Ray glue for the Ray-free core: each Tune trial runs ``tune_asr.training.train`` on Ray Train workers.

Use from any driver::

    from trainables import METRIC, MODE, TrialResources, make_trainable
    resources = TrialResources(gpus_per_trial=0.25)
    tuner = ray.tune.Tuner(make_trainable(data_dir, resources, train_storage),
                           param_space={...TrainConfig values...},
                           tune_config=ray.tune.TuneConfig(max_concurrent_trials=resources.max_concurrent(ray.cluster_resources())))
"""

import time

IMPORT_STARTED = time.time()  # in a Train worker: before torch loads, so start-up splits into spawn and imports

from trainables.resources import TRIAL_DRIVER_CPU, TrialResources
from trainables.trial import METRIC, MODE, NoRetryOnDivergence, make_trainable, run_trial
from trainables.worker import train_loop_per_worker, worker_spec

__all__ = ["METRIC", "MODE", "NoRetryOnDivergence", "TRIAL_DRIVER_CPU", "TrialResources", "make_trainable", "run_trial", "train_loop_per_worker", "worker_spec"]
