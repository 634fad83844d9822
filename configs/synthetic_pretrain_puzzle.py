"""Self-supervised pre-training on the embedded synthetic faces: jigsaw puzzles alone, the first stage of the
two-stage recipe (pre-train, then fine-tune with configs/synthetic_finetune_puzzle.py) that HMTL is compared with.

Command:   python -m hmtl_jax.main --config=configs/synthetic_pretrain_puzzle.py \
               --workdir=workdirs/synthetic_pretrain_puzzle
           then configs/synthetic_finetune_puzzle.py, which starts from that workdir.
Budget:    5 epochs of the 6,000 train faces (465 steps), labels unused; with the fine-tuning's, as many steps as
           the one-stage configs (930 in all at 100 % of the labels, 897 at 20 %).
Hardware:  any CPU.
Expected:  validation accuracy at chance (11.9-12.6 % measured; the emotion head is never trained here). What it is
           for is the fine-tuned figure (configs/synthetic_finetune_puzzle.py).
"""

from hmtl_jax.config.recipes import add_puzzle, ssl_pretrain, synthetic_base


def get_config():
    c = synthetic_base()
    add_puzzle(c)
    ssl_pretrain(c)
    c.lock()
    return c
