#!/bin/sh
# Write a C source that holds a file's bytes, so the binary can serve the
# file without reading it at run time (the Makefile embeds
# docs/openapi.json this way).  od and sed are POSIX: no xxd, no linker
# tricks.
#
#   scripts/embed.sh NAME FILE HEADER >OUT.c
#
# defines `const unsigned char NAME[]` (the bytes, then a NUL, so it is
# also a C string) and `const size_t NAME_len` (without the NUL), as
# declared in HEADER.
set -eu
name=$1 file=$2 header=$3
[ -r "$file" ] || {
	echo "embed.sh: cannot read '$file'" >&2
	exit 1
}
echo "/* Generated from $file by scripts/embed.sh: do not edit. */"
echo "#include \"$header\""
echo
echo "const unsigned char ${name}[] = {"
od -An -v -tx1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
echo "	0x00"
echo "};"
echo "const size_t ${name}_len = sizeof(${name}) - 1;"
