"""Lists the files in an initramfs as Debian's initramfs-tools writes it: one or more
uncompressed "newc" cpio archives (the kernel modules, already xz-compressed, stay outside the
compression), then a gzip-, xz- or zstd-less gzip one. image/check.sh reads it without root,
mounts or unmkinitramfs.

    python3 image/initrd-list.py INITRD
"""
import lzma
import sys
import zlib


def names(buf):
    """The names in the cpio archives at the start of buf, and where they end."""
    found, i = [], 0
    while buf[i:i + 6] == b"070701":
        namesize, filesize = int(buf[i + 94:i + 102], 16), int(buf[i + 54:i + 62], 16)
        name = buf[i + 110:i + 110 + namesize - 1].decode(errors="replace")
        i = (i + 110 + namesize + 3) & ~3
        i = (i + filesize + 3) & ~3
        if name != "TRAILER!!!":
            found.append(name)
        # Archives follow one another, padded with zeros.
        while i < len(buf) and buf[i] == 0:
            i += 1
    return found, i


data = open(sys.argv[1], "rb").read()
listed, end = names(data)
rest = data[end:]
if rest.startswith(b"\x1f\x8b"):
    listed += names(zlib.decompressobj(31).decompress(rest))[0]
elif rest.startswith(b"\xfd7zXZ"):
    listed += names(lzma.decompress(rest))[0]
elif rest:
    sys.exit(f"{sys.argv[1]}: unknown compression after {end} bytes")
print("\n".join(listed))
