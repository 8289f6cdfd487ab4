"""The Arrow adapter: a string array in, a ``list<float32>`` array of embeddings out.

The encoding job's Spark path (``mapInArrow``) and the driver-side cache path both go through
:func:`encode_arrow`, so both write exactly the same column type. pyarrow is imported inside the
functions, so importing the encoding package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from interests.encoding.errors import EncoderError, InvalidEncoderArgumentError
from interests.encoding.protocol import Encoder

if TYPE_CHECKING:
    import pyarrow as pa


def encode_arrow(encoder: Encoder, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Encode a string Arrow array into a ``list<float32>`` array, one embedding per text.

    Nulls are refused (TypeError naming the first one): a missing text has no embedding, and
    silently writing one would hide the bug upstream.
    """
    import pyarrow as pa

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        raise TypeError(f"encode_arrow expects a pyarrow string Array, got {type(texts).__name__}")
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)
            or pa.types.is_string_view(texts.type)):
        raise TypeError(f"encode_arrow expects a string array, got {texts.type}")
    if texts.null_count:
        first_null = int(np.flatnonzero(texts.is_null().to_numpy(zero_copy_only=False))[0])
        raise TypeError(f"texts[{first_null}] is null ({texts.null_count} nulls), expected str")
    count, dim = len(texts), encoder.dim
    if count * dim >= 2**31:
        raise InvalidEncoderArgumentError(
            f"{count} texts x {dim} floats overflow a list array's 32-bit offsets; "
            "encode in smaller batches"
        )
    vectors = np.ascontiguousarray(encoder.encode(texts.to_pylist()), dtype=np.float32)
    if vectors.shape != (count, dim):
        raise EncoderError(f"encoder returned shape {vectors.shape}, expected {(count, dim)}")
    offsets = pa.array(np.arange(0, (count + 1) * dim, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1), type=pa.float32()))
