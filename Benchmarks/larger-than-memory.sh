#!/usr/bin/env bash
# Converts and merges a checkpoint larger than the machine's memory, recording peak RSS and wall time
# (docs/RELIABILITY.md, "Checkpoints larger than memory"). Not run by CI: it writes ~26 GB twice.
#
#   Benchmarks/larger-than-memory.sh [CKPT] [FOLDER]
#
# CKPT defaults to .build/release/ckpt (build it with `swift build -c release --product ckpt`),
# FOLDER to a new folder under $TMPDIR. The base is a sparse file: its header is written, then the
# file is extended with ftruncate, so its 26 GB of bf16 zeros take no disk space and no time to make.
# Every output is deleted as soon as it has been measured; at most one 26 GB output exists at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt="$(realpath "${1:-.build/release/ckpt}")"
folder="${2:-$(mktemp -d "${TMPDIR:-/tmp}/ckpt-larger-than-memory-XXXXXX")}"
python="${CKPT_PYTHON:-$HOME/.cache/ckpt/venv/bin/python}"
mkdir -p "$folder"
trap 'rm -rf "$folder"' EXIT

# A Llama-3-70B-shaped slice: hidden 8192, intermediate 28672, 8 KV heads of 128, vocabulary 128256,
# 13 layers, untied lm_head. The largest tensors are embed_tokens and lm_head (2.1 GB each).
"$python" - "$folder" <<'EOF'
import json, os, struct, sys
import numpy as np
from safetensors.numpy import save_file

folder = sys.argv[1]
hidden, inter, kv, vocab, layers = 8192, 28672, 1024, 128256, 13
shapes = [("model.embed_tokens.weight", [vocab, hidden])]
for i in range(layers):
    p = f"model.layers.{i}."
    shapes += [(p + "input_layernorm.weight", [hidden]), (p + "post_attention_layernorm.weight", [hidden]),
               (p + "self_attn.q_proj.weight", [hidden, hidden]), (p + "self_attn.k_proj.weight", [kv, hidden]),
               (p + "self_attn.v_proj.weight", [kv, hidden]), (p + "self_attn.o_proj.weight", [hidden, hidden]),
               (p + "mlp.gate_proj.weight", [inter, hidden]), (p + "mlp.up_proj.weight", [inter, hidden]),
               (p + "mlp.down_proj.weight", [hidden, inter])]
shapes += [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
header, offset = {"__metadata__": {"format": "pt"}}, 0
for name, shape in shapes:
    size = 2 * int(np.prod(shape))
    header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
    offset += size
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
path = os.path.join(folder, "base.safetensors")
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    f.truncate(8 + len(text) + offset)  # sparse: no data block is written
print(f"base: {len(shapes)} tensors, {8 + len(text) + offset} bytes, largest {max(2 * int(np.prod(s)) for _, s in shapes)} bytes")

# A PEFT LoRA of rank 16 on q_proj, v_proj and down_proj of every layer and on lm_head (the largest tensor).
r, alpha = 16, 32
rng = np.random.default_rng(0)
tensors = {}
for name, shape in shapes:
    module = name[: -len(".weight")]
    if not (module.endswith(("q_proj", "v_proj", "down_proj")) or module == "lm_head"):
        continue
    out, inp = shape
    tensors[f"base_model.model.{module}.lora_A.weight"] = (rng.standard_normal((r, inp)) * 0.02).astype(np.float32)
    tensors[f"base_model.model.{module}.lora_B.weight"] = (rng.standard_normal((out, r)) * 0.02).astype(np.float32)
os.makedirs(os.path.join(folder, "lora"))
save_file(tensors, os.path.join(folder, "lora", "adapter_model.safetensors"))
with open(os.path.join(folder, "lora", "adapter_config.json"), "w") as f:
    json.dump({"peft_type": "LORA", "r": r, "lora_alpha": alpha, "target_modules": ["q_proj", "v_proj", "down_proj", "lm_head"]}, f)
EOF

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load: $(uptime | sed 's/.*load average: //')"
ls -ls "$folder/base.safetensors"
run() {
    local label="$1"; shift
    /usr/bin/time -v "$@" 2> "$folder/time.txt" >/dev/null
    local rss wall
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$folder/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$folder/time.txt")
    echo "$label: peak RSS $((rss / 1024)) MiB, wall $wall; load: $(uptime | sed 's/.*load average: //')"
}
run "convert bf16 -> f16" "$ckpt" convert "$folder/base.safetensors" "$folder/out.safetensors" --dtype f16 --quiet
ls -l "$folder/out.safetensors"; rm -f "$folder/out.safetensors"
run "merge rank-16 LoRA" "$ckpt" merge "$folder/base.safetensors" "$folder/lora" -o "$folder/out.safetensors" --quiet
ls -l "$folder/out.safetensors"; rm -f "$folder/out.safetensors"
