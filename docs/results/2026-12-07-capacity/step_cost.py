"""Seconds per pretraining step (16 rows x 256 tokens, AdamW, float32, 1 torch thread) of the three model
shapes of docs/results/2026-12-07-capacity.md, measured back to back so that the machine's load is the same."""
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.set_num_threads(1)
for layers, hidden, inter in [(4, 256, 688), (8, 256, 688), (8, 192, 512)]:
    cfg = LlamaConfig(vocab_size=2048, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=4, max_position_embeddings=512, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, 2048, (16, 256))
    seconds = []
    for _ in range(4):
        t = time.time()
        model(input_ids=x, labels=x).loss.backward()
        opt.step()
        opt.zero_grad()
        seconds.append(time.time() - t)
    n = sum(p.numel() for p in model.parameters())
    print(layers, hidden, inter, n, [round(s, 2) for s in seconds], "tok/s", round(16 * 256 / min(seconds[1:])), flush=True)
