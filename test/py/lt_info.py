#!/usr/bin/python3
"""Reads a .torrent with libtorrent and prints what libtorrent makes of it, as
one JSON object on stdout (for test/interop-torrents.test.ts):

  {"infoHash": v1 hex, "name", "totalSize", "pieceLength", "numPieces",
   "files": [{"path": path under the name joined with "/", "size", "pad": bool}]}

Exit 1 with {"error": message} when libtorrent refuses the file.
"""
import json
import sys

import libtorrent as lt


def main():
    try:
        ti = lt.torrent_info(sys.argv[1])
    except RuntimeError as err:
        print(json.dumps({"error": str(err)}))
        return 1
    fs = ti.files()
    name = ti.name()
    files = []
    for i in range(fs.num_files()):
        path = fs.file_path(i).replace("\\", "/")
        if ti.num_files() > 1 or path != name:
            prefix = name + "/"
            path = path[len(prefix):] if path.startswith(prefix) else path
        files.append({"path": path, "size": fs.file_size(i), "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)})
    print(json.dumps({
        "infoHash": str(ti.info_hashes().v1),
        "name": name,
        "totalSize": ti.total_size(),
        "pieceLength": ti.piece_length(),
        "numPieces": ti.num_pieces(),
        "files": files,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
