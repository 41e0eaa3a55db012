"""Ray glue for the Ray-free core: the Tune trainable of every trial and the resources it takes.

Import what you need from the submodules (this package file stays empty, so that the Ray-free
``trainables.resources`` imports without Ray)::

    from trainables.resources import TrialResources
    from trainables.trial import make_trainable
    resources = TrialResources(gpus_per_trial=0.25)
    tuner = ray.tune.Tuner(make_trainable(data_dir, resources, train_storage),
                           param_space={...TrainConfig values...},
                           tune_config=ray.tune.TuneConfig(reuse_actors=True, ...))
"""

import time

IMPORT_STARTED = time.time()  # in a fresh trial or Train worker process: before torch loads, so start-up counts imports
