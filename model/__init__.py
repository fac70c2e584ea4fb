"""The real model in the loop: a NumPy llama from a GGUF, its tokenizer, traces from it, and
ReSV evaluated inside it against full attention."""
