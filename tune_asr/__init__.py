"""tune-asr: hyperparameter search for Korean speech recognition (DeepSpeech2, NSML data)."""

__version__ = "0.1.0"
