#!/usr/bin/env python3
"""Reads and edits .safetensors files for the CLI tests without numpy or torch: the format is an 8-byte
little-endian header length, a JSON header, then raw little-endian data (huggingface/safetensors spec).

  safetensors_tool.py same A B [NAME_PREFIX...]  exit 0 when every tensor (or those whose name starts with a
                                                 prefix) has the same dtype, shape and bytes in both files
  safetensors_tool.py meta FILE KEY             print a metadata value
  safetensors_tool.py names FILE                print the tensor names, one a line
  safetensors_tool.py edit IN OUT ACTION...     write a damaged copy; ACTIONs:
      set:NAME:INDEX:VALUE    one float32 element (VALUE: a number, nan, inf, -inf)
      drop:NAME               remove a tensor
      shrink:NAME             keep only the first element (a wrong size)
      meta:KEY=VALUE          set a metadata entry;  unmeta:KEY  remove one
"""
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        tensors[name] = (info["dtype"], list(info["shape"]), bytearray(data[b:e]))
    return tensors, meta


def write(path, tensors, meta):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, blob) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(bytes(blob))
        offset += len(blob)
    header["__metadata__"] = meta
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(argv):
    cmd = argv[1]
    if cmd == "same":
        a, _ = read(argv[2])
        b, _ = read(argv[3])
        prefixes = argv[4:]
        pick = lambda names: sorted(n for n in names if not prefixes or any(n.startswith(p) for p in prefixes))
        if pick(a) != pick(b):
            print("different tensor names:", pick(a), pick(b))
            return 1
        if not pick(a):
            print("no tensors selected")
            return 1
        bad = [n for n in pick(a) if a[n] != b[n]]
        for n in bad[:5]:
            print("differs:", n)
        return 1 if bad else 0
    if cmd == "meta":
        _, meta = read(argv[2])
        print(meta[argv[3]])
        return 0
    if cmd == "names":
        t, _ = read(argv[2])
        print("\n".join(t))
        return 0
    if cmd == "edit":
        t, meta = read(argv[2])
        for action in argv[4:]:
            kind, _, rest = action.partition(":")
            if kind == "set":
                name, index, value = rest.rsplit(":", 2)
                struct.pack_into("<f", t[name][2], 4 * int(index), float(value))
            elif kind == "drop":
                del t[rest]
            elif kind == "shrink":
                dtype, shape, blob = t[rest]
                t[rest] = (dtype, [1], blob[:4])
            elif kind == "meta":
                key, _, value = rest.partition("=")
                meta[key] = value
            elif kind == "unmeta":
                del meta[rest]
            else:
                raise SystemExit("unknown action " + action)
        write(argv[3], t, meta)
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
