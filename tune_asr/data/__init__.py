"""Training data: audio formats, corpus layouts (NSML, KsponSpeech), validation, vocabulary, the corpus cache, splits and length batches."""
