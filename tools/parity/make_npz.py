"""Writes the .npz fixtures of tests/Crt.Tests/NpzTests.cs with NumPy itself (run with /usr/bin/python3):
ADM-style sample files (uint8 NHWC under arr_0; stored and deflated), a gray [N, H, W] file, a format-2.0 .npy
inside, and files crt must refuse (float32 images, Fortran order)."""
import io, os, zipfile
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "Crt.Tests", "data", "npz")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
rgb = rng.integers(0, 256, size=(3, 4, 5, 3), dtype=np.uint8)
np.savez(os.path.join(out, "rgb_savez.npz"), arr_0=rgb, label_arr=np.array([1, 2, 3]))
np.savez_compressed(os.path.join(out, "rgb_compressed.npz"), rgb)
gray = rng.integers(0, 256, size=(2, 6, 6), dtype=np.uint8)
np.savez(os.path.join(out, "gray_nhw.npz"), gray)
# a format 2.0 header (4-byte length), written by hand into the zip
buf = io.BytesIO()
np.lib.format.write_array(buf, rgb, version=(2, 0))
with zipfile.ZipFile(os.path.join(out, "rgb_v2.npz"), "w") as z:
    z.writestr("arr_0.npy", buf.getvalue())
np.savez(os.path.join(out, "float_images.npz"), rgb.astype(np.float32))
np.savez(os.path.join(out, "fortran.npz"), np.asfortranarray(rgb))
np.save(os.path.join(out, "rgb_expected.npy"), rgb)  # the raw values, for the test to compare against
print("wrote", sorted(os.listdir(out)))
