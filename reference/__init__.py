"""The reference implementation of the book's code, one module per chapter.

Modules: `ch02` (text and tokens), `ch03` (attention), `ch04` (the GPT model),
`ch05` (pretraining, sampling, weight loading), `appendix_d` (training extras),
`ch06` (classification), `ch07` (instruction tuning), `appendix_e` (LoRA).
Each exposes the book's names with the book's signatures; `assets` holds the shipped
data files and an offline GPT-2 tokenizer.
"""
