"""NSML data: label files, raw PCM audio, validation, vocabulary, splits and length batches."""
