// Benchmark child: create-torrent (the WebTorrent implementation) on one
// file, in plain JavaScript so no loader skews its time or memory.
// Usage: node create-torrent-child.mjs FILE PIECE_LENGTH; prints the info-hash.
import createTorrent from 'create-torrent';
import parseTorrent from 'parse-torrent';

const [file, pieceLength] = process.argv.slice(2);
createTorrent(file, { pieceLength: Number(pieceLength), announceList: [] }, async (err, torrent) => {
  if (err) {
    console.error(err);
    process.exitCode = 1;
    return;
  }
  const parsed = await parseTorrent(torrent);
  process.stdout.write(JSON.stringify({ infoHash: parsed.infoHash }) + '\n');
});
