"""Writes src/Crt.Tensors/Kernels/Cpu/GemmKernels.cs: the register-tiled SGEMM micro-kernels.

One template, stamped out for each SIMD width (Vector512, Vector256, Vector128: the cross-platform APIs, so
every kernel runs on every machine, a width the CPU lacks emulated by the runtime) and each tile shape. A
kernel keeps an MR x NV-vector tile of C in registers: per k step it loads NV vectors of the packed B sliver,
broadcasts MR values of the packed A sliver and issues MR*NV multiply-adds. MR*NV accumulators + NV B
vectors + 1 broadcast must fit the register file (16 vector registers on x86 without AVX-512, 32 with
AVX-512 or on ARM64) or the JIT spills.

Why concrete copies and not one method generic over IVec<V> (Vec.cs): through the wrapper struct the JIT
loses track of which FMA operand is the accumulator being updated, and for every second FMA of a row it
computes into the broadcast register and copies the result back (a vmovaps per FMA pair; measured on .NET 10).
The same happens through any inlined helper (a Mad(a, b, c) that picks FMA or multiply + add), so the k loop calls
Vector*.FusedMultiplyAdd itself, in a copy of the loop taken where the CPU has FMA (a JIT-time constant): then the
accumulator stays the FMA destination (vfmadd231ps), as in hand-written code.

    python3 tools/gen_gemm_kernels.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "../src/Crt.Tensors/Kernels/Cpu/GemmKernels.cs")

# SIMD widths: (bits, lanes).
WIDTHS = [(512, 16), (256, 8), (128, 4)]
# Tile shapes (MR rows, NV vectors across), each at every width. Gemm.cs picks one per width:
# 8x3 (512: 8x48; 128 on ARM64: 8x12), 6x2 (256: 6x16; 128 on SSE: 6x8); 8x2 and 4x3 for tuning.
SHAPES = [(8, 2), (6, 2), (4, 3), (8, 3)]


def name(bits, w, mr, nv, active):
    """K512_8x48, or K512_8x48_w16 for the kernel that computes only the first 16 columns of an 8x48 sliver."""
    return f"K{bits}_{mr}x{nv * w}" + ("" if active == nv else f"_w{active * w}")


def kernel(bits, w, mr, nv, active):
    """An MR x (active vectors) tile over packed B slivers NV vectors wide: active < NV gives the narrow kernels for a
    product's last sliver, where only some of its columns are real (the rest is zero padding not worth multiplying)."""
    V = f"Vector{bits}"
    nr = nv * w
    what = (f"{mr}×{nr} tile ({nv} × {bits}-bit)" if active == nv else
            f"{mr}×{active * w} tile ({active} × {bits}-bit), the first {active * w} columns of {nr}-wide B slivers")
    L = [f"    /// <summary>{what}: C (+)= Σ_p a[p·{mr}+r]·b[p·{nr}+c] over packed slivers; mode 0: store, 1: add, 2: beta·C + acc, 3: acc + bias (a row vector).</summary>",
         "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
         f"    internal static void {name(bits, w, mr, nv, active)}(int kc, float* a, float* b, float* c, int ldc, float beta, int mode, float* bias)",
         "    {"]
    nr_c, nv = nr, active  # the tile computes `active` vectors; B still advances by the sliver's full width
    for r in range(mr):
        L.append(f"        {V}<float> " + ", ".join(f"c{r}{v} = default" for v in range(nv)) + ";")
    # C's tile rows lie ldc apart and are usually out of cache; fetch them now so the loads after the k loop
    # (mode 1 and 2) do not stall on memory. x86 only: .NET has no prefetch intrinsic for ARM64.
    offs = sorted(set(list(range(0, nv * w, 16)) + [nv * w - 1]))
    L.append("        if (Sse.IsSupported)")
    L.append("            for (int r = 0; r < %d; r++) { float* cr = c + (long)r * ldc; %s }" % (mr, " ".join(f"Sse.Prefetch0(cr{'' if o == 0 else f' + {o}'});" for o in offs)))
    for fused in (True, False):
        L += ["        if (HasFma)" if fused else "        else", "        {",
              "            for (int p = 0; p < kc; p++)", "            {",
              "                " + " ".join(f"var b{v} = {V}.Load(b{'' if v == 0 else f' + {v * w}'});" for v in range(nv))]
        for r in range(mr):
            ops = (f"c{r}{v} = {V}.FusedMultiplyAdd(av, b{v}, c{r}{v});" if fused else f"c{r}{v} += av * b{v};" for v in range(nv))
            L.append(f"                {{ var av = {V}.Create(a[{r}]); " + " ".join(ops) + " }")
        L += [f"                a += {mr}; b += {nr_c};", "            }", "        }"]
    L.append(f"        var vb = {V}.Create(beta);")
    for r in range(mr):
        L.append(f"        {{ float* cr = c + {r} * ldc; " + " ".join(f"Store(cr{'' if v == 0 else f' + {v * w}'}, c{r}{v}, vb, mode, bias{'' if v == 0 else f' + {v * w}'});" for v in range(nv)) + " }")
    L.append("    }")
    return "\n".join(L)


def helpers(bits):
    V = f"Vector{bits}<float>"
    return f"""    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static {V} Mad({V} a, {V} b, {V} c) => HasFma ? Vector{bits}.FusedMultiplyAdd(a, b, c) : a * b + c;

    /// <summary>Writes one accumulator vector to C: mode 0 stores it, 1 adds it to C, 2 stores beta·C + it, 3 stores it + bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, {V} x, {V} vb, int mode, float* bias)
    {{
        if (mode == 1) x += Vector{bits}.Load(c);
        else if (mode == 2) x = Mad(vb, Vector{bits}.Load(c), x);
        else if (mode == 3) x += Vector{bits}.Load(bias);
        x.Store(c);
    }}
"""


def family():
    L = ["    /// <summary>The kernels of one tile shape (MR rows, NV vectors): for its first 1, 2, … vectors, the whole tile last; null where",
         "    /// there is no such shape.</summary>",
         "    internal static nint[]? Family(int bits, int mr, int nv) => (bits, mr, nv) switch",
         "    {"]
    for bits, w in WIDTHS:
        for mr, nv in SHAPES:
            ks = ", ".join(f"P(&{name(bits, w, mr, nv, a)})" for a in range(1, nv + 1))
            L.append(f"        ({bits}, {mr}, {nv}) => [{ks}],")
    L += ["        _ => null,", "    };", "", "    private static nint P(KernelFn kernel) => (nint)kernel;", ""]
    return "\n".join(L)


HEAD = """// Register-tiled GEMM micro-kernels, one per SIMD width and tile shape. Generated by tools/gen_gemm_kernels.py; edit that, not this.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using unsafe KernelFn = delegate*<int, float*, float*, float*, int, float, int, float*, void>;

namespace Crt.Tensors.Kernels.Cpu;

internal static unsafe class GemmKernels
{
    /// <summary>Fused multiply-add in hardware. Without it (x86 without FMA, e.g. the 128-bit SSE path) the kernels
    /// multiply and add: the BCL's FusedMultiplyAdd would be emulated one lane at a time there.</summary>
    internal static bool HasFma => Fma.IsSupported || AdvSimd.IsSupported;
"""

if __name__ == "__main__":
    parts = [HEAD, family()] + [helpers(bits) for bits, _ in WIDTHS]
    for bits, w in WIDTHS:
        for mr, nv in SHAPES:
            for active in range(nv, 0, -1):
                parts += [kernel(bits, w, mr, nv, active), ""]
    parts[-1] = "}"
    with open(OUT, "w") as f:
        f.write("\n".join(parts) + "\n")
    print("wrote", os.path.normpath(OUT))
