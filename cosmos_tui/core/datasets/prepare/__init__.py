"""`data prepare`: from a folder of raw videos (and captions) to the layout a loader reads.

Modules: ``sources`` (what SRC holds), ``clips`` (probe, window, resize, encode), ``job`` (the
recorded, resumable job), ``worker`` (one clip in a worker process), ``caption_command`` (the
person's captioner), ``writers`` (one per layout), ``steps`` (the optional steps a job is given),
``controls`` (edge and command controls), ``views`` (multiview grouping), ``t5`` (Predict1 text
embeddings). Import them by full path.
"""
