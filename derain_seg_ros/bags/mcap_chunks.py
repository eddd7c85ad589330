"""Damaged MCAP chunks found by their CRCs before a bag is read, and left out by name.

An MCAP file stores messages in chunks, each with a CRC-32 of its uncompressed records where the
recorder wrote one (``ros2 bag record`` does; 0 means none). ``rosbags`` checks it only when it
reaches the chunk, and its error then ends the whole read, taking every later chunk with it. So
the bag tool checks every chunk first, drops the bad ones from the reader's index, and reports
which messages they held (topics, counts, time span); the rest of the bag is processed as usual.
Chunks without a CRC cannot be checked: a bit flipped inside one goes unseen, as with any reader.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

from rosbags.rosbag2 import Reader
from rosbags.rosbag2.storage_mcap import McapReader, decompress

log = logging.getLogger(__name__)
CHUNK_OPCODE_AND_LENGTH = 9  # opcode (1) + record length (8)
CRC_OFFSET = 24  # after message_start_time, message_end_time, uncompressed_size (3 x uint64)


@dataclass(frozen=True)
class BadChunk:
    file: str
    offset: int
    reason: str
    start_ns: int
    end_ns: int
    counts: dict[str, int]  # topic -> messages lost

    def describe(self) -> str:
        lost = ", ".join(f"{n} on {topic}" for topic, n in sorted(self.counts.items()))
        return (
            f"{self.file}: chunk at byte {self.offset} is damaged ({self.reason}); its messages were left out: "
            f"{lost or 'none indexed'}, stamped {self.start_ns}..{self.end_ns} ns"
        )


def _mcap_storages(reader: Reader) -> list[McapReader]:
    storage = getattr(reader, "storage", None)
    storages = getattr(storage, "storages", [storage])  # a bag folder holds several files; a bare .mcap is one
    return [s for s in storages if isinstance(s, McapReader) and s.bio is not None]


def _check(mcap: McapReader, chunk) -> str | None:
    """Why this chunk cannot be trusted, or None (also None where it has no CRC and decompresses)."""
    bio = mcap.bio
    bio.seek(chunk.chunk_start_offset + CHUNK_OPCODE_AND_LENGTH + CRC_OFFSET)
    (crc,) = struct.unpack("<I", bio.read(4))
    bio.seek(chunk.chunk_start_offset + CHUNK_OPCODE_AND_LENGTH + 40 + len(chunk.compression))
    data = bio.read(chunk.compressed_size)
    if len(data) != chunk.compressed_size:
        return "truncated"
    try:
        decompress(data, chunk.compression, chunk.uncompressed_size, crc)
    except Exception as exc:  # noqa: BLE001 - rosbags' ReaderError, or the decompressor's own for garbage
        return str(exc).rstrip(".") or type(exc).__name__
    return None


def drop_damaged_chunks(reader: Reader) -> list[BadChunk]:
    """Check every chunk of every MCAP file of an open ``reader``; remove the bad ones from its index."""
    bad: list[BadChunk] = []
    for mcap in _mcap_storages(reader):
        topics = {cid: channel.topic for cid, channel in mcap.channels.items()}
        kept = []
        for chunk in mcap.chunks:
            reason = _check(mcap, chunk)
            if reason is None:
                kept.append(chunk)
                continue
            counts = {topics.get(cid, f"channel {cid}"): n for cid, n in chunk.channel_count.items() if n}
            bad.append(
                BadChunk(
                    mcap.path.name,
                    chunk.chunk_start_offset,
                    reason,
                    chunk.message_start_time,
                    chunk.message_end_time,
                    counts,
                )
            )
            log.error("%s", bad[-1].describe())
        mcap.chunks[:] = kept
    return bad
