"""Compares two 8-bit PNGs pixel by pixel (no PIL needed): prints the largest per-channel level difference and
the number of pixels that differ, as "max=M differing=D of N". Usage: png_diff.py A.png B.png"""
import sys, zlib, struct
def read_png(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    pos, idat, w = 8, b'', None
    while pos < len(data):
        n, t = struct.unpack('>I4s', data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
        if t == b'IHDR':
            w, h, depth, ctype = struct.unpack('>IIBB', body[:10]); assert depth == 8
            ch = {0: 1, 2: 3, 6: 4, 4: 2}[ctype]
        elif t == b'IDAT': idat += body
    raw = zlib.decompress(idat); stride = w * ch; out = []; prev = bytearray(stride); i = 0
    for _ in range(h):
        f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
        for x in range(stride):
            a = line[x - ch] if x >= ch else 0; b = prev[x]; c = prev[x - ch] if x >= ch else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line)); prev = line
    return w, h, ch, out
wa, ha, ca, A = read_png(sys.argv[1]); wb, hb, cb, B = read_png(sys.argv[2])
assert (wa, ha, ca) == (wb, hb, cb)
mx = 0; diff = 0
for ra, rb in zip(A, B):
    for x in range(0, len(ra), ca):
        d = max(abs(ra[x + k] - rb[x + k]) for k in range(ca)); mx = max(mx, d); diff += d > 0
print(f"max={mx} differing={diff} of {wa * ha}")
