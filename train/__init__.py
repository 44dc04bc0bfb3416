"""Training: tokenizer, tiny Llama, non-parallel pretraining, SFT arms, RL, and evaluation of checkpoints.

Every function here is a pure function of explicit inputs (configs, data, paths passed in); where
files go is decided by `app/`. This floor imports `evals`, never `probe` or `app`. Importing the
package imports nothing heavy: configs load without torch, and trl is imported inside the functions
that train.

    recipe.py     Recipe / load_recipe: one TOML file fills every stage's config (train/recipes/*.toml)
    config.py     RuntimeConfig (threads, seed, bf16 autocast, device), ConfigError, typed dict -> config
    tokenizer.py  TokenizerConfig, build_tokenizer: byte-level BPE on the world's documents
    model.py      ModelConfig, build_model, mean_completion_entropy
    pretrain.py   PretrainConfig, pretrain_texts, pretrain: plain torch loop on the non-parallel corpus
    mixtures.py   build_arms: mono / multi / parallel SFT datasets with equal token budgets + manifest
    sft.py        SFTStageConfig, run_sft: trl SFTTrainer, full fine-tune or merged LoRA
    generation.py, evaluate.py, rewards.py, grpo.py, transfer.py: sampling, scoring and RL
"""
