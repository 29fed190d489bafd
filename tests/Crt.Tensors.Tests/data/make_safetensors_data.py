"""Writes the small safetensors files SafeTensorsTests reads (run: /usr/bin/python3 make_safetensors_data.py).
The values are spelled out again in the C# test, so the files are the only link between the two."""
import os, sys
import torch
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../../tools/parity"))
import safetensors_io as st

mixed = {
    "f32": torch.tensor([[1.5, -2.25, 3.0e-3], [1.0e6, -0.0, 7.0]], dtype=torch.float32),
    "f16": torch.tensor([0.1, -1.25, 65504.0, 6.1035156e-05], dtype=torch.float16),
    "bf16": torch.tensor([[0.1, -3.0], [1.0e30, 0.5]], dtype=torch.bfloat16),
    "f64": torch.tensor([0.1, -2.5], dtype=torch.float64),
    "i64": torch.tensor([[0, -1, 16777216], [42, -16777216, 7]], dtype=torch.int64),
    "i32": torch.tensor([-5, 2147], dtype=torch.int32),
    "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
    "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True], dtype=torch.bool),
    "scalar": torch.tensor(3.25, dtype=torch.float32),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
}
st.save(os.path.join(here, "mixed_dtypes.safetensors"), mixed, metadata={"format": "pt", "note": "crt test data"})

tokens = {
    "tokens": torch.tensor([[1, 2, 3], [2**40 + 7, -3, 0]], dtype=torch.int64),
    "labels": torch.tensor([9, 0, 4], dtype=torch.int32),
}
st.save(os.path.join(here, "big_ints.safetensors"), tokens)

# Self-check against the values in SafeTensorsTests.
back = st.load(os.path.join(here, "mixed_dtypes.safetensors"))
for k, v in mixed.items():
    assert torch.equal(back[k], v), k
print([float(x) for x in mixed["f16"].float()], [float(x) for x in mixed["bf16"].float().flatten()], [float(x) for x in mixed["f64"].float()])
