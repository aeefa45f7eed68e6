package dev.weft.kernels;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The default matrix multiply: pure Java on the incubating Vector API, in the GotoBLAS/BLIS structure.
 * Computes {@code C[m,n] = op(A)[m,k] op(B)[k,n] + beta C}, row-major, with the conventions of {@link Gemm}
 * (any transpose, offsets and leading dimensions; beta = 0 never reads C). In GPT-2 it runs the linear
 * layers: forward NN (tokens x 768 times 768 x 3072), input gradient NT and weight gradient TN (beta = 1).
 *
 * <p>Loop nest (V = vector width in floats, 16 with AVX-512; NR = 2V = 32, MR = 8):
 * <pre>
 *   for jc in N step NC            B block kc x nc: packed once per (jc, pc), shared by all threads
 *     for pc in K step KC          beta is applied on the first pc block only (beta = 0: C is only written)
 *       pack op(B)[pc.., jc..] into NR-column micro-panels, [p][NR] contiguous          (parallel)
 *       parallel over tiles of C (MC rows, disjoint; also split along N when M is small)
 *         pack op(A)[tile rows, pc..] into MR-row micro-panels, [p][MR] contiguous  (MC x KC, in L2)
 *         for jr in nc step NR       one B micro-panel (KC x NR) comes from L3 and is reused from L2/L1
 *           for ir in tile step MR   micro-kernel: MR x NR accumulators in registers; per p, load two
 *                                    B vectors, broadcast A[ir+r][p] and FMA into row r's two vectors
 * </pre>
 * Packing absorbs the transposes, so one micro-kernel serves NN, NT, TN and TT. Edge tiles (m or n not a
 * multiple of MR or NR) run on zero-padded panels into a scratch tile whose valid corner is merged into C.
 * Threads own disjoint rectangles of C, so no two threads write the same element.
 *
 * <p>Blocking parameters, chosen by measurement on a Zen 5 (AVX-512, 48 KiB L1d, 2 MiB L2 per core,
 * 32 MiB L3), see {@code weft bench gemm}:
 * <ul>
 * <li>MR x NR = {@value #DEFAULT_MR} x 2V: 16 zmm accumulators + 2 B vectors + 1 broadcast fit in the 32
 *     vector registers with no spills, and 16 independent FMA chains cover 2 FMA pipes x 4-cycle latency.
 *     In an L1-resident test it ran at about 230 GFLOP/s on one core; 4x4, 6x3 and 12x2 were 1-13%
 *     slower, and tiles of 24+ accumulators (6x4, 8x3, 14x2) much slower (register spills in C2).
 * <li>KC = {@value #DEFAULT_KC}: deep k blocks amortise the per-call cost of loading and storing the C
 *     tile and reduce the passes over C; 768 beat 256/384/512 by 5-30% on one thread. An 8 x KC A panel
 *     is 24 KiB; a B micro-panel is 96 KiB (L2).
 * <li>MC = {@value #DEFAULT_MC}: each B micro-panel fetched from L3 is reused by MC/MR = 16 A panels.
 *     With MC = MR (one A panel per sweep of B) one thread was as fast, but two threads only reached
 *     about 1.2x, limited by L3 bandwidth; from MC = 64 up they scale about 2x. The A block
 *     (MC x KC = 384 KiB) stays in L2. MC is also the unit of work handed to a thread; the number of row
 *     blocks is rounded to a multiple of the thread count so the split is even.
 * <li>NC = {@value #DEFAULT_NC}: the packed B block (up to 12 MiB) lives in L3; the GPT-2 shapes need
 *     a single jc block.
 * </ul>
 * Problems with m n k below {@value #SMALL} take a plain serial loop, where packing would not pay.
 * Packing buffers are per thread and reused across calls (they grow to the largest block seen).
 */
public final class VectorGemm implements Gemm {
  private static final jdk.incubator.vector.VectorSpecies<Float> S8 = FloatVector.SPECIES_256;
  static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  static final int L = S.length();

  static final int DEFAULT_MR = 8;
  static final int DEFAULT_NV = 2;
  static final int DEFAULT_KC = 768;
  static final int DEFAULT_MC = 128;
  static final int DEFAULT_NC = 4096;
  static final int PACK_CHUNK = 64;
  static final long SMALL = 32L * 32 * 32;

  private static final int MODE_SET = 0;    // C = acc (beta == 0, first k block: C is never read)
  private static final int MODE_ADD = 1;    // C += acc
  private static final int MODE_SCALE = 2;  // C = beta C + acc

  private static final ThreadLocal<float[][]> BUFFERS = ThreadLocal.withInitial(() -> new float[3][]);
  private static final int BUF_A = 0, BUF_B = 1, BUF_T = 2;

  private final int mr, nv, nr, kcMax, mcMax, ncMax;

  public VectorGemm() {
    this(DEFAULT_MR, DEFAULT_NV, DEFAULT_KC, DEFAULT_MC, DEFAULT_NC);
  }

  /** Tuning constructor: register tile mr x (nv vectors), and cache block limits. */
  VectorGemm(int mr, int nv, int kc, int mc, int nc) {
    if (!supported(mr, nv)) throw new IllegalArgumentException("no micro-kernel for " + mr + "x" + nv);
    this.mr = mr;
    this.nv = nv;
    this.nr = nv * L;
    this.kcMax = kc;
    this.mcMax = Math.max(mr, mc / mr * mr);
    this.ncMax = Math.max(nr, nc / nr * nr);
  }

  @Override
  public String name() {
    return "vector";
  }

  @Override
  public void gemm(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                   float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                   float beta, float[] c, int cOff, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
      scaleC(m, n, beta, c, cOff, ldc);
      return;
    }
    if ((long) m * n * k < SMALL) {
      small(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
      return;
    }
    final int threads = cx.threads();
    // Even k blocks no larger than kcMax; even n blocks (NR multiples) no larger than ncMax.
    final int kBlocks = ceilDiv(k, kcMax);
    final int kcStep = ceilDiv(k, kBlocks);
    final int nBlocks = ceilDiv(n, ncMax);
    final int ncStep = roundUp(ceilDiv(n, nBlocks), nr);
    // M blocks: no larger than mcMax, and a multiple of the thread count so the split is even.
    int mBlocks = ceilDiv(m, mcMax);
    if (threads > 1) mBlocks = roundUp(mBlocks, threads);
    final int mcStep = roundUp(ceilDiv(m, mBlocks), mr);
    final int mTiles = ceilDiv(m, mcStep);

    float[][] callerBufs = BUFFERS.get();
    final float[] bPack = grow(callerBufs, BUF_B, kcStep * ncStep);

    for (int jc = 0; jc < n; jc += ncStep) {
      final int nc = Math.min(ncStep, n - jc);
      final int nPanels = ceilDiv(nc, nr);
      // When C has few row blocks, also split the columns so every thread gets work.
      final int nSplit = threads > 1 && mTiles < 2 * threads
          ? Math.min(nPanels, ceilDiv(2 * threads, mTiles)) : 1;
      final int panelsPerSplit = ceilDiv(nPanels, nSplit);
      final int tiles = mTiles * nSplit;
      for (int pc = 0; pc < k; pc += kcStep) {
        final int kc = Math.min(kcStep, k - pc);
        final int mode = pc > 0 || beta == 1f ? MODE_ADD : beta == 0f ? MODE_SET : MODE_SCALE;
        final int jc0 = jc, pc0 = pc;
        cx.parallelFor(nPanels, Math.max(1, 64 * 256 / (kc * nv)), (from, to) -> {
          if (transB) {
            for (int q = from; q < to; q++) packTransposedB(b, bOff, ldb, pc0, kc, jc0, nc, q, bPack);
          } else {
            packRowsOfB(b, bOff, ldb, pc0, kc, jc0, nc, from, to, bPack);
          }
        });
        cx.parallelFor(tiles, 1, (from, to) -> {
          float[][] bufs = BUFFERS.get();
          float[] aPack = grow(bufs, BUF_A, mcStep * kc);
          float[] tmp = grow(bufs, BUF_T, mr * nr);
          for (int t = from; t < to; t++) {
            int mi = t / nSplit, ni = t % nSplit;
            int i0 = mi * mcStep;
            int mc = Math.min(mcStep, m - i0);
            int q0 = ni * panelsPerSplit, q1 = Math.min(nPanels, q0 + panelsPerSplit);
            if (q0 >= q1) continue;
            int mPanels = ceilDiv(mc, mr);
            for (int ip = 0; ip < mPanels; ip++) {
              packA(transA, a, aOff, lda, pc0, kc, i0 + ip * mr, Math.min(mr, mc - ip * mr), aPack, ip * mr * kc);
            }
            for (int q = q0; q < q1; q++) {
              int j = jc0 + q * nr;
              int cols = Math.min(nr, n - j);
              int bi = q * nr * kc;
              for (int ip = 0; ip < mPanels; ip++) {
                int i = i0 + ip * mr;
                int rows = Math.min(mr, mc - ip * mr);
                boolean edge = rows < mr || cols < nr;
                float[] dst = edge ? tmp : c;
                int dOff = edge ? 0 : cOff + i * ldc + j, dLd = edge ? nr : ldc, dMode = edge ? MODE_SET : mode;
                kernel(kc, aPack, ip * mr * kc, bPack, bi, dst, dOff, dLd, dMode, beta);
                if (edge) merge(tmp, rows, cols, c, cOff + i * ldc + j, ldc, mode, beta);
              }
            }
          }
        });
      }
    }
  }

  /** Runs the MR x NR micro-kernel of this instance on packed panels. */
  void kernel(int kc, float[] ap, int ai, float[] bp, int bi, float[] c, int ci, int ldc,
              int mode, float beta) {
    switch (mr * 16 + nv) {
      case 8 * 16 + 2 -> kernel8x2(kc, ap, ai, bp, bi, c, ci, ldc, mode, beta);
      case 12 * 16 + 2 -> kernel12x2(kc, ap, ai, bp, bi, c, ci, ldc, mode, beta);
      case 6 * 16 + 3 -> kernel6x3(kc, ap, ai, bp, bi, c, ci, ldc, mode, beta);
      case 4 * 16 + 4 -> kernel4x4(kc, ap, ai, bp, bi, c, ci, ldc, mode, beta);
      default -> throw new IllegalStateException();
    }
  }

  private static boolean supported(int mr, int nv) {
    return (mr == 8 && nv == 2) || (mr == 12 && nv == 2) || (mr == 6 && nv == 3) || (mr == 4 && nv == 4);
  }

  /** Packs op(A)[i0 .. i0+rows, pc .. pc+kc) as one MR-row micro-panel: ap[dst + p*MR + r]; rows >= `rows` are zero. */
  void packA(boolean transA, float[] a, int aOff, int lda, int pc, int kc, int i0, int rows,
                     float[] ap, int dst) {
    final int mr = this.mr;
    if (transA) {
      // op(A)[i][p] = A[p][i]: each p contributes `rows` contiguous floats.
      int src = aOff + pc * lda + i0;
      if (mr == 8 && rows == 8) {
        for (int p = 0; p < kc; p++, src += lda, dst += 8) {
          FloatVector.fromArray(S8, a, src).intoArray(ap, dst);
        }
        return;
      }
      for (int p = 0; p < kc; p++, src += lda, dst += mr) {
        System.arraycopy(a, src, ap, dst, rows);
        for (int r = rows; r < mr; r++) ap[dst + r] = 0f;
      }
    } else if (mr == 8 && rows == 8) {
      // The common full panel: interleave 8 rows, writing sequentially (8 sequential read streams).
      int s0 = aOff + i0 * lda + pc, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda;
      int s4 = s3 + lda, s5 = s4 + lda, s6 = s5 + lda, s7 = s6 + lda;
      for (int p = 0, d = dst; p < kc; p++, d += 8) {
        ap[d] = a[s0 + p];
        ap[d + 1] = a[s1 + p];
        ap[d + 2] = a[s2 + p];
        ap[d + 3] = a[s3 + p];
        ap[d + 4] = a[s4 + p];
        ap[d + 5] = a[s5 + p];
        ap[d + 6] = a[s6 + p];
        ap[d + 7] = a[s7 + p];
      }
    } else {
      for (int r = 0; r < rows; r++) {
        int src = aOff + (i0 + r) * lda + pc;
        for (int p = 0, d = dst + r; p < kc; p++, d += mr) ap[d] = a[src + p];
      }
      for (int r = rows; r < mr; r++) {
        for (int p = 0, d = dst + r; p < kc; p++, d += mr) ap[d] = 0f;
      }
    }
  }

  /**
   * Packs NR-column micro-panel q of op(B)[pc .. pc+kc, jc .. jc+nc) for a transposed B (stored n x k):
   * bp[q*NR*kc + p*NR + j] = B[jc + q*NR + j][pc + p]; missing columns are zero. This is a transpose,
   * done in chunks of PACK_CHUNK values of p so that the destination rows being filled
   * (PACK_CHUNK x NR floats) stay in L1 while every column visits them.
   */
  void packTransposedB(float[] b, int bOff, int ldb, int pc, int kc, int jc, int nc, int q, float[] bp) {
    final int nr = this.nr;
    int j0 = jc + q * nr;
    int cols = Math.min(nr, jc + nc - j0);
    int dst = q * nr * kc;
    for (int p0 = 0; p0 < kc; p0 += PACK_CHUNK) {
      int p1 = Math.min(kc, p0 + PACK_CHUNK);
      for (int cc = 0; cc < cols; cc++) {
        int src = bOff + (j0 + cc) * ldb + pc;
        for (int p = p0, d = dst + p0 * nr + cc; p < p1; p++, d += nr) bp[d] = b[src + p];
      }
      for (int cc = cols; cc < nr; cc++) {
        for (int p = p0, d = dst + p0 * nr + cc; p < p1; p++, d += nr) bp[d] = 0f;
      }
    }
  }

  /**
   * Packs micro-panels [q0, q1) of a non-transposed B row by row: each stored row of B is read
   * sequentially (prefetch-friendly) and scattered in NR-float pieces to the panels.
   */
  void packRowsOfB(float[] b, int bOff, int ldb, int pc, int kc, int jc, int nc, int q0, int q1, float[] bp) {
    final int nr = this.nr;
    for (int p = 0; p < kc; p++) {
      int src = bOff + (pc + p) * ldb + jc;
      for (int q = q0; q < q1; q++) {
        int cols = Math.min(nr, nc - q * nr);
        int dst = q * nr * kc + p * nr;
        System.arraycopy(b, src + q * nr, bp, dst, cols);
        if (cols < nr) Arrays.fill(bp, dst + cols, dst + nr, 0f);
      }
    }
  }

  /** Adds (or sets) the valid rows x cols corner of a scratch tile with row stride NR into C. */
  private void merge(float[] tmp, int rows, int cols, float[] c, int ci, int ldc, int mode, float beta) {
    for (int r = 0; r < rows; r++) {
      int o = ci + r * ldc, t = r * nr;
      switch (mode) {
        case MODE_SET -> System.arraycopy(tmp, t, c, o, cols);
        case MODE_ADD -> { for (int j = 0; j < cols; j++) c[o + j] += tmp[t + j]; }
        default -> { for (int j = 0; j < cols; j++) c[o + j] = beta * c[o + j] + tmp[t + j]; }
      }
    }
  }

  /** Starting value of an accumulator: zero (beta = 0, first k block), C, or beta C. */
  private static FloatVector init(float[] c, int o, int mode, float beta) {
    if (mode == MODE_SET) return FloatVector.zero(S);
    FloatVector v = FloatVector.fromArray(S, c, o);
    return mode == MODE_ADD ? v : v.mul(beta);
  }

  /** C = beta C (k = 0); beta = 0 writes zeros without reading C. */
  private static void scaleC(int m, int n, float beta, float[] c, int cOff, int ldc) {
    if (beta == 1f) return;
    for (int i = 0; i < m; i++) {
      int o = cOff + i * ldc;
      if (beta == 0f) Arrays.fill(c, o, o + n, 0f);
      else for (int j = 0; j < n; j++) c[o + j] *= beta;
    }
  }

  /** Plain serial loops for tiny problems, where packing costs more than it saves. */
  private static void small(boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float beta, float[] c, int cOff, int ldc) {
    for (int i = 0; i < m; i++) {
      int o = cOff + i * ldc;
      for (int j = 0; j < n; j++) {
        float s = 0f;
        for (int p = 0; p < k; p++) {
          float x = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
          float y = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
          s += x * y;
        }
        c[o + j] = beta == 0f ? s : beta * c[o + j] + s;
      }
    }
  }

  private static float[] grow(float[][] bufs, int which, int size) {
    float[] buf = bufs[which];
    if (buf == null || buf.length < size) {
      buf = new float[size];
      bufs[which] = buf;
    }
    return buf;
  }

  private static int ceilDiv(int x, int y) {
    return (x + y - 1) / y;
  }

  private static int roundUp(int x, int y) {
    return ceilDiv(x, y) * y;
  }

  // ---- micro-kernels (register tiles), generated shape by shape so that accumulators stay in registers.
  // Accumulators start from C (or beta C, or zero), so C is read at the start of a call and only stored
  // at the end; measured 5-15% faster on the accumulating (k-blocked, beta = 1) cases than adding C at
  // the end.

  /** 8 rows x 2 vectors register tile: 16 accumulators. */
  private static void kernel8x2(int kc, float[] ap, int ai, float[] bp, int bi,
                             float[] c, int ci, int ldc, int mode, float beta) {
    FloatVector c0_0 = init(c, ci + 0 * ldc + 0 * L, mode, beta), c0_1 = init(c, ci + 0 * ldc + 1 * L, mode, beta);
    FloatVector c1_0 = init(c, ci + 1 * ldc + 0 * L, mode, beta), c1_1 = init(c, ci + 1 * ldc + 1 * L, mode, beta);
    FloatVector c2_0 = init(c, ci + 2 * ldc + 0 * L, mode, beta), c2_1 = init(c, ci + 2 * ldc + 1 * L, mode, beta);
    FloatVector c3_0 = init(c, ci + 3 * ldc + 0 * L, mode, beta), c3_1 = init(c, ci + 3 * ldc + 1 * L, mode, beta);
    FloatVector c4_0 = init(c, ci + 4 * ldc + 0 * L, mode, beta), c4_1 = init(c, ci + 4 * ldc + 1 * L, mode, beta);
    FloatVector c5_0 = init(c, ci + 5 * ldc + 0 * L, mode, beta), c5_1 = init(c, ci + 5 * ldc + 1 * L, mode, beta);
    FloatVector c6_0 = init(c, ci + 6 * ldc + 0 * L, mode, beta), c6_1 = init(c, ci + 6 * ldc + 1 * L, mode, beta);
    FloatVector c7_0 = init(c, ci + 7 * ldc + 0 * L, mode, beta), c7_1 = init(c, ci + 7 * ldc + 1 * L, mode, beta);
    for (int p = 0; p < kc; p++) {
      int aq = ai + p * 8, bq = bi + p * (2 * L);
      FloatVector b0 = FloatVector.fromArray(S, bp, bq);
      FloatVector b1 = FloatVector.fromArray(S, bp, bq + 1 * L);
      FloatVector a;
      a = FloatVector.broadcast(S, ap[aq]); c0_0 = a.fma(b0, c0_0); c0_1 = a.fma(b1, c0_1);
      a = FloatVector.broadcast(S, ap[aq + 1]); c1_0 = a.fma(b0, c1_0); c1_1 = a.fma(b1, c1_1);
      a = FloatVector.broadcast(S, ap[aq + 2]); c2_0 = a.fma(b0, c2_0); c2_1 = a.fma(b1, c2_1);
      a = FloatVector.broadcast(S, ap[aq + 3]); c3_0 = a.fma(b0, c3_0); c3_1 = a.fma(b1, c3_1);
      a = FloatVector.broadcast(S, ap[aq + 4]); c4_0 = a.fma(b0, c4_0); c4_1 = a.fma(b1, c4_1);
      a = FloatVector.broadcast(S, ap[aq + 5]); c5_0 = a.fma(b0, c5_0); c5_1 = a.fma(b1, c5_1);
      a = FloatVector.broadcast(S, ap[aq + 6]); c6_0 = a.fma(b0, c6_0); c6_1 = a.fma(b1, c6_1);
      a = FloatVector.broadcast(S, ap[aq + 7]); c7_0 = a.fma(b0, c7_0); c7_1 = a.fma(b1, c7_1);
    }
    { int o = ci;
      c0_0.intoArray(c, o);
      c0_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 1 * ldc;
      c1_0.intoArray(c, o);
      c1_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 2 * ldc;
      c2_0.intoArray(c, o);
      c2_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 3 * ldc;
      c3_0.intoArray(c, o);
      c3_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 4 * ldc;
      c4_0.intoArray(c, o);
      c4_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 5 * ldc;
      c5_0.intoArray(c, o);
      c5_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 6 * ldc;
      c6_0.intoArray(c, o);
      c6_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 7 * ldc;
      c7_0.intoArray(c, o);
      c7_1.intoArray(c, o + 1 * L);
    }
  }

  /** 12 rows x 2 vectors register tile: 24 accumulators. */
  private static void kernel12x2(int kc, float[] ap, int ai, float[] bp, int bi,
                             float[] c, int ci, int ldc, int mode, float beta) {
    FloatVector c0_0 = init(c, ci + 0 * ldc + 0 * L, mode, beta), c0_1 = init(c, ci + 0 * ldc + 1 * L, mode, beta);
    FloatVector c1_0 = init(c, ci + 1 * ldc + 0 * L, mode, beta), c1_1 = init(c, ci + 1 * ldc + 1 * L, mode, beta);
    FloatVector c2_0 = init(c, ci + 2 * ldc + 0 * L, mode, beta), c2_1 = init(c, ci + 2 * ldc + 1 * L, mode, beta);
    FloatVector c3_0 = init(c, ci + 3 * ldc + 0 * L, mode, beta), c3_1 = init(c, ci + 3 * ldc + 1 * L, mode, beta);
    FloatVector c4_0 = init(c, ci + 4 * ldc + 0 * L, mode, beta), c4_1 = init(c, ci + 4 * ldc + 1 * L, mode, beta);
    FloatVector c5_0 = init(c, ci + 5 * ldc + 0 * L, mode, beta), c5_1 = init(c, ci + 5 * ldc + 1 * L, mode, beta);
    FloatVector c6_0 = init(c, ci + 6 * ldc + 0 * L, mode, beta), c6_1 = init(c, ci + 6 * ldc + 1 * L, mode, beta);
    FloatVector c7_0 = init(c, ci + 7 * ldc + 0 * L, mode, beta), c7_1 = init(c, ci + 7 * ldc + 1 * L, mode, beta);
    FloatVector c8_0 = init(c, ci + 8 * ldc + 0 * L, mode, beta), c8_1 = init(c, ci + 8 * ldc + 1 * L, mode, beta);
    FloatVector c9_0 = init(c, ci + 9 * ldc + 0 * L, mode, beta), c9_1 = init(c, ci + 9 * ldc + 1 * L, mode, beta);
    FloatVector c10_0 = init(c, ci + 10 * ldc + 0 * L, mode, beta), c10_1 = init(c, ci + 10 * ldc + 1 * L, mode, beta);
    FloatVector c11_0 = init(c, ci + 11 * ldc + 0 * L, mode, beta), c11_1 = init(c, ci + 11 * ldc + 1 * L, mode, beta);
    for (int p = 0; p < kc; p++) {
      int aq = ai + p * 12, bq = bi + p * (2 * L);
      FloatVector b0 = FloatVector.fromArray(S, bp, bq);
      FloatVector b1 = FloatVector.fromArray(S, bp, bq + 1 * L);
      FloatVector a;
      a = FloatVector.broadcast(S, ap[aq]); c0_0 = a.fma(b0, c0_0); c0_1 = a.fma(b1, c0_1);
      a = FloatVector.broadcast(S, ap[aq + 1]); c1_0 = a.fma(b0, c1_0); c1_1 = a.fma(b1, c1_1);
      a = FloatVector.broadcast(S, ap[aq + 2]); c2_0 = a.fma(b0, c2_0); c2_1 = a.fma(b1, c2_1);
      a = FloatVector.broadcast(S, ap[aq + 3]); c3_0 = a.fma(b0, c3_0); c3_1 = a.fma(b1, c3_1);
      a = FloatVector.broadcast(S, ap[aq + 4]); c4_0 = a.fma(b0, c4_0); c4_1 = a.fma(b1, c4_1);
      a = FloatVector.broadcast(S, ap[aq + 5]); c5_0 = a.fma(b0, c5_0); c5_1 = a.fma(b1, c5_1);
      a = FloatVector.broadcast(S, ap[aq + 6]); c6_0 = a.fma(b0, c6_0); c6_1 = a.fma(b1, c6_1);
      a = FloatVector.broadcast(S, ap[aq + 7]); c7_0 = a.fma(b0, c7_0); c7_1 = a.fma(b1, c7_1);
      a = FloatVector.broadcast(S, ap[aq + 8]); c8_0 = a.fma(b0, c8_0); c8_1 = a.fma(b1, c8_1);
      a = FloatVector.broadcast(S, ap[aq + 9]); c9_0 = a.fma(b0, c9_0); c9_1 = a.fma(b1, c9_1);
      a = FloatVector.broadcast(S, ap[aq + 10]); c10_0 = a.fma(b0, c10_0); c10_1 = a.fma(b1, c10_1);
      a = FloatVector.broadcast(S, ap[aq + 11]); c11_0 = a.fma(b0, c11_0); c11_1 = a.fma(b1, c11_1);
    }
    { int o = ci;
      c0_0.intoArray(c, o);
      c0_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 1 * ldc;
      c1_0.intoArray(c, o);
      c1_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 2 * ldc;
      c2_0.intoArray(c, o);
      c2_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 3 * ldc;
      c3_0.intoArray(c, o);
      c3_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 4 * ldc;
      c4_0.intoArray(c, o);
      c4_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 5 * ldc;
      c5_0.intoArray(c, o);
      c5_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 6 * ldc;
      c6_0.intoArray(c, o);
      c6_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 7 * ldc;
      c7_0.intoArray(c, o);
      c7_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 8 * ldc;
      c8_0.intoArray(c, o);
      c8_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 9 * ldc;
      c9_0.intoArray(c, o);
      c9_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 10 * ldc;
      c10_0.intoArray(c, o);
      c10_1.intoArray(c, o + 1 * L);
    }
    { int o = ci + 11 * ldc;
      c11_0.intoArray(c, o);
      c11_1.intoArray(c, o + 1 * L);
    }
  }

  /** 6 rows x 3 vectors register tile: 18 accumulators. */
  private static void kernel6x3(int kc, float[] ap, int ai, float[] bp, int bi,
                             float[] c, int ci, int ldc, int mode, float beta) {
    FloatVector c0_0 = init(c, ci + 0 * ldc + 0 * L, mode, beta), c0_1 = init(c, ci + 0 * ldc + 1 * L, mode, beta), c0_2 = init(c, ci + 0 * ldc + 2 * L, mode, beta);
    FloatVector c1_0 = init(c, ci + 1 * ldc + 0 * L, mode, beta), c1_1 = init(c, ci + 1 * ldc + 1 * L, mode, beta), c1_2 = init(c, ci + 1 * ldc + 2 * L, mode, beta);
    FloatVector c2_0 = init(c, ci + 2 * ldc + 0 * L, mode, beta), c2_1 = init(c, ci + 2 * ldc + 1 * L, mode, beta), c2_2 = init(c, ci + 2 * ldc + 2 * L, mode, beta);
    FloatVector c3_0 = init(c, ci + 3 * ldc + 0 * L, mode, beta), c3_1 = init(c, ci + 3 * ldc + 1 * L, mode, beta), c3_2 = init(c, ci + 3 * ldc + 2 * L, mode, beta);
    FloatVector c4_0 = init(c, ci + 4 * ldc + 0 * L, mode, beta), c4_1 = init(c, ci + 4 * ldc + 1 * L, mode, beta), c4_2 = init(c, ci + 4 * ldc + 2 * L, mode, beta);
    FloatVector c5_0 = init(c, ci + 5 * ldc + 0 * L, mode, beta), c5_1 = init(c, ci + 5 * ldc + 1 * L, mode, beta), c5_2 = init(c, ci + 5 * ldc + 2 * L, mode, beta);
    for (int p = 0; p < kc; p++) {
      int aq = ai + p * 6, bq = bi + p * (3 * L);
      FloatVector b0 = FloatVector.fromArray(S, bp, bq);
      FloatVector b1 = FloatVector.fromArray(S, bp, bq + 1 * L);
      FloatVector b2 = FloatVector.fromArray(S, bp, bq + 2 * L);
      FloatVector a;
      a = FloatVector.broadcast(S, ap[aq]); c0_0 = a.fma(b0, c0_0); c0_1 = a.fma(b1, c0_1); c0_2 = a.fma(b2, c0_2);
      a = FloatVector.broadcast(S, ap[aq + 1]); c1_0 = a.fma(b0, c1_0); c1_1 = a.fma(b1, c1_1); c1_2 = a.fma(b2, c1_2);
      a = FloatVector.broadcast(S, ap[aq + 2]); c2_0 = a.fma(b0, c2_0); c2_1 = a.fma(b1, c2_1); c2_2 = a.fma(b2, c2_2);
      a = FloatVector.broadcast(S, ap[aq + 3]); c3_0 = a.fma(b0, c3_0); c3_1 = a.fma(b1, c3_1); c3_2 = a.fma(b2, c3_2);
      a = FloatVector.broadcast(S, ap[aq + 4]); c4_0 = a.fma(b0, c4_0); c4_1 = a.fma(b1, c4_1); c4_2 = a.fma(b2, c4_2);
      a = FloatVector.broadcast(S, ap[aq + 5]); c5_0 = a.fma(b0, c5_0); c5_1 = a.fma(b1, c5_1); c5_2 = a.fma(b2, c5_2);
    }
    { int o = ci;
      c0_0.intoArray(c, o);
      c0_1.intoArray(c, o + 1 * L);
      c0_2.intoArray(c, o + 2 * L);
    }
    { int o = ci + 1 * ldc;
      c1_0.intoArray(c, o);
      c1_1.intoArray(c, o + 1 * L);
      c1_2.intoArray(c, o + 2 * L);
    }
    { int o = ci + 2 * ldc;
      c2_0.intoArray(c, o);
      c2_1.intoArray(c, o + 1 * L);
      c2_2.intoArray(c, o + 2 * L);
    }
    { int o = ci + 3 * ldc;
      c3_0.intoArray(c, o);
      c3_1.intoArray(c, o + 1 * L);
      c3_2.intoArray(c, o + 2 * L);
    }
    { int o = ci + 4 * ldc;
      c4_0.intoArray(c, o);
      c4_1.intoArray(c, o + 1 * L);
      c4_2.intoArray(c, o + 2 * L);
    }
    { int o = ci + 5 * ldc;
      c5_0.intoArray(c, o);
      c5_1.intoArray(c, o + 1 * L);
      c5_2.intoArray(c, o + 2 * L);
    }
  }

  /** 4 rows x 4 vectors register tile: 16 accumulators. */
  private static void kernel4x4(int kc, float[] ap, int ai, float[] bp, int bi,
                             float[] c, int ci, int ldc, int mode, float beta) {
    FloatVector c0_0 = init(c, ci + 0 * ldc + 0 * L, mode, beta), c0_1 = init(c, ci + 0 * ldc + 1 * L, mode, beta), c0_2 = init(c, ci + 0 * ldc + 2 * L, mode, beta), c0_3 = init(c, ci + 0 * ldc + 3 * L, mode, beta);
    FloatVector c1_0 = init(c, ci + 1 * ldc + 0 * L, mode, beta), c1_1 = init(c, ci + 1 * ldc + 1 * L, mode, beta), c1_2 = init(c, ci + 1 * ldc + 2 * L, mode, beta), c1_3 = init(c, ci + 1 * ldc + 3 * L, mode, beta);
    FloatVector c2_0 = init(c, ci + 2 * ldc + 0 * L, mode, beta), c2_1 = init(c, ci + 2 * ldc + 1 * L, mode, beta), c2_2 = init(c, ci + 2 * ldc + 2 * L, mode, beta), c2_3 = init(c, ci + 2 * ldc + 3 * L, mode, beta);
    FloatVector c3_0 = init(c, ci + 3 * ldc + 0 * L, mode, beta), c3_1 = init(c, ci + 3 * ldc + 1 * L, mode, beta), c3_2 = init(c, ci + 3 * ldc + 2 * L, mode, beta), c3_3 = init(c, ci + 3 * ldc + 3 * L, mode, beta);
    for (int p = 0; p < kc; p++) {
      int aq = ai + p * 4, bq = bi + p * (4 * L);
      FloatVector b0 = FloatVector.fromArray(S, bp, bq);
      FloatVector b1 = FloatVector.fromArray(S, bp, bq + 1 * L);
      FloatVector b2 = FloatVector.fromArray(S, bp, bq + 2 * L);
      FloatVector b3 = FloatVector.fromArray(S, bp, bq + 3 * L);
      FloatVector a;
      a = FloatVector.broadcast(S, ap[aq]); c0_0 = a.fma(b0, c0_0); c0_1 = a.fma(b1, c0_1); c0_2 = a.fma(b2, c0_2); c0_3 = a.fma(b3, c0_3);
      a = FloatVector.broadcast(S, ap[aq + 1]); c1_0 = a.fma(b0, c1_0); c1_1 = a.fma(b1, c1_1); c1_2 = a.fma(b2, c1_2); c1_3 = a.fma(b3, c1_3);
      a = FloatVector.broadcast(S, ap[aq + 2]); c2_0 = a.fma(b0, c2_0); c2_1 = a.fma(b1, c2_1); c2_2 = a.fma(b2, c2_2); c2_3 = a.fma(b3, c2_3);
      a = FloatVector.broadcast(S, ap[aq + 3]); c3_0 = a.fma(b0, c3_0); c3_1 = a.fma(b1, c3_1); c3_2 = a.fma(b2, c3_2); c3_3 = a.fma(b3, c3_3);
    }
    { int o = ci;
      c0_0.intoArray(c, o);
      c0_1.intoArray(c, o + 1 * L);
      c0_2.intoArray(c, o + 2 * L);
      c0_3.intoArray(c, o + 3 * L);
    }
    { int o = ci + 1 * ldc;
      c1_0.intoArray(c, o);
      c1_1.intoArray(c, o + 1 * L);
      c1_2.intoArray(c, o + 2 * L);
      c1_3.intoArray(c, o + 3 * L);
    }
    { int o = ci + 2 * ldc;
      c2_0.intoArray(c, o);
      c2_1.intoArray(c, o + 1 * L);
      c2_2.intoArray(c, o + 2 * L);
      c2_3.intoArray(c, o + 3 * L);
    }
    { int o = ci + 3 * ldc;
      c3_0.intoArray(c, o);
      c3_1.intoArray(c, o + 1 * L);
      c3_2.intoArray(c, o + 2 * L);
      c3_3.intoArray(c, o + 3 * L);
    }
  }
}
