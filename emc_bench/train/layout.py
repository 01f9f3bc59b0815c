"""The files of a training run folder, named once.

``OUT/run.json`` holds the provenance, ``OUT/checkpoints/checkpoint-N`` the checkpoints (every
``save_steps``, with optimizer state; a rerun resumes from the last one), ``OUT/adapter/`` the
final LoRA adapter (loadable with peft and with lm-eval's ``peft=``), and ``OUT/curves.json`` /
``OUT/curves.png`` the training curves.
"""

RUN_JSON = "run.json"
CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"
CURVES_JSON = "curves.json"
CURVES_PNG = "curves.png"
