package dev.weft.data;

import dev.weft.WeftInputException;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Turns a source (zip, folder, text file, generated text) into a {@link Corpus}: lists its files in name
 * order, decides the held-out ones, gives every file its place in one preallocated array (training files
 * first, then validation files, each followed by a newline) and fills the array, from a few threads at
 * once, each with its own zip handle. The sizes come from the zip directory or the file system, so no
 * file is decompressed or read twice (except the first 8000 bytes of a user's file, to skip binaries).
 */
final class CorpusLoader {
  /** Largest corpus one byte[] holds, with room for the VM's array header. */
  static final long MAX_BYTES = Integer.MAX_VALUE - 64;
  /** Bytes inspected to tell text from binary (as git does: a NUL byte means binary). */
  private static final int SNIFF_BYTES = 8000;
  private static final int THREADS = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));

  private CorpusLoader() {}

  /** One file of a source: its name (the sort key) and its size in bytes. */
  record Doc(String name, long size) {}

  /** Reads whole docs into place; one per thread. */
  interface DocReader extends Closeable {
    void read(Doc doc, byte[] dst, int off) throws IOException;
  }

  /** A list of docs and a way to read them. */
  interface Source {
    List<Doc> docs();

    DocReader newReader() throws IOException;
  }

  // ---- sources -------------------------------------------------------------------------------------

  static Corpus loadJdkSources(Path srcZip) {
    List<Doc> docs = listZip(srcZip, n -> n.endsWith(".java"), false, new int[1]);
    return assemble(zipSource(srcZip, docs), srcZip,
        "JDK " + Runtime.version().feature() + " sources (" + srcZip + "): " + count(docs.size(), "file") + ", ");
  }

  static Corpus loadGenerated(Path missing) {
    List<byte[]> texts = GeneratedCorpus.files();
    List<Doc> docs = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) docs.add(new Doc(GeneratedCorpus.name(i), texts.get(i).length));
    return assemble(memorySource(docs, texts), "the generated corpus",
        "generated Java-like text (the JDK sources at " + missing + " are missing): " + count(docs.size(), "file")
            + ", ");
  }

  static Corpus ofSingleText(String name, byte[] text) {
    List<Doc> docs = List.of(new Doc(name, text.length));
    return assemble(memorySource(docs, List.of(text)), name, name + ": ");
  }

  static Corpus load(Path data, PrintStream log) {
    if (!Files.exists(data)) {
      throw new WeftInputException("--data " + data + " does not exist. Give a text file, a folder of text "
          + "files or a zip, or leave --data out to train on the default corpus (the JDK's sources).");
    }
    if (!Files.isReadable(data)) {
      throw new WeftInputException("--data " + data + " is not readable (permission denied). Make it readable "
          + "or give another path.");
    }
    if (Files.isDirectory(data)) return loadFolder(data, log);
    if (TokenFile.isTokenFile(data)) return TokenFile.open(data);
    if (isZip(data)) {
      int[] skipped = new int[1];
      List<Doc> docs = listZip(data, n -> true, true, skipped);
      if (docs.isEmpty()) {
        throw new WeftInputException("--data " + data + " is a zip with no text entries ("
            + count(skipped[0], "binary entry") + " skipped). Give a zip, folder or file of text.");
      }
      if (skipped[0] > 0) log.println("--data " + data + ": skipped " + count(skipped[0], "binary-looking entry"));
      return assemble(zipSource(data, docs), data, "zip " + data + ": " + count(docs.size(), "text entry")
          + (skipped[0] > 0 ? " (" + skipped[0] + " binary skipped)" : "") + ", ");
    }
    long size = fileSize(data);
    if (size == 0) {
      throw new WeftInputException("--data " + data + " is empty. Give a file with some text in it.");
    }
    List<Doc> docs = List.of(new Doc(data.getFileName().toString(), size));
    return assemble(folderSource(data.toAbsolutePath().getParent(), docs), data, "text file " + data + ": ");
  }

  private static Corpus loadFolder(Path root, PrintStream log) {
    List<Doc> docs = new ArrayList<>();
    int binary = 0;
    int hidden = 0;
    List<Path> files;
    try (Stream<Path> walk = Files.walk(root)) {
      files = walk.filter(Files::isRegularFile).toList();
    } catch (IOException | java.io.UncheckedIOException e) {
      throw new WeftInputException("Could not list the folder --data " + root + ": " + e.getMessage()
          + ". Check that it and the folders below it are readable.", e);
    }
    for (Path p : files) {
      String rel = relativeName(root, p);
      if (isHidden(rel)) {
        hidden++;
        continue;
      }
      try (InputStream in = Files.newInputStream(p)) {
        if (looksBinary(in)) {
          binary++;
          continue;
        }
      } catch (IOException e) {
        throw unreadable(p, e);
      }
      docs.add(new Doc(rel, fileSize(p)));
    }
    docs.sort(Comparator.comparing(Doc::name));
    long bytes = docs.stream().mapToLong(Doc::size).sum();
    if (docs.isEmpty() || bytes == 0) {
      throw new WeftInputException("--data " + root + " holds no text: " + count(files.size(), "file")
          + ", of which " + binary + " look binary and " + hidden + " are hidden. Give a folder with text files.");
    }
    String skipped = binary + hidden == 0 ? "" : " (skipped " + count(binary, "binary-looking file") + " and "
        + count(hidden, "hidden file") + ")";
    if (!skipped.isEmpty()) log.println("--data " + root + ":" + skipped);
    return assemble(folderSource(root, docs), root, "folder " + root + ": " + count(docs.size(), "file")
        + skipped + ", ");
  }

  private static String relativeName(Path root, Path p) {
    StringBuilder sb = new StringBuilder();
    for (Path part : root.relativize(p)) {
      if (sb.length() > 0) sb.append('/');
      sb.append(part);
    }
    return sb.toString();
  }

  private static boolean isHidden(String rel) {
    return rel.startsWith(".") || rel.contains("/.");
  }

  private static boolean isZip(Path p) {
    if (p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".zip")) return true;
    try (InputStream in = Files.newInputStream(p)) {
      byte[] magic = in.readNBytes(4);
      return magic.length == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
    } catch (IOException e) {
      throw unreadable(p, e);
    }
  }

  private static boolean looksBinary(InputStream in) throws IOException {
    byte[] head = in.readNBytes(SNIFF_BYTES);
    for (byte b : head) {
      if (b == 0) return true;
    }
    return false;
  }

  private static List<Doc> listZip(Path zip, Predicate<String> wanted, boolean sniff, int[] skippedBinary) {
    List<Doc> docs = new ArrayList<>();
    try (ZipFile zf = new ZipFile(zip.toFile())) {
      for (var it = zf.entries().asIterator(); it.hasNext(); ) {
        ZipEntry e = it.next();
        if (e.isDirectory() || !wanted.test(e.getName())) continue;
        long size = e.getSize();
        if (sniff || size < 0) {
          try (InputStream in = zf.getInputStream(e)) {
            if (sniff && looksBinary(in)) {
              skippedBinary[0]++;
              continue;
            }
            if (size < 0) size = e.getSize() >= 0 ? e.getSize() : measure(zf, e);
          }
        }
        docs.add(new Doc(e.getName(), size));
      }
    } catch (ZipException e) {
      throw new WeftInputException(zip + " is not a readable zip file (" + e.getMessage() + "). It may be "
          + "truncated or corrupt; re-create it, or give the folder or text file instead.", e);
    } catch (IOException e) {
      throw unreadable(zip, e);
    }
    docs.sort(Comparator.comparing(Doc::name));
    return docs;
  }

  private static long measure(ZipFile zf, ZipEntry e) throws IOException {
    try (InputStream in = zf.getInputStream(e)) {
      return in.transferTo(OutputStream.nullOutputStream());
    }
  }

  private static Source zipSource(Path zip, List<Doc> docs) {
    return new Source() {
      public List<Doc> docs() {
        return docs;
      }

      public DocReader newReader() throws IOException {
        ZipFile zf = new ZipFile(zip.toFile());
        return new DocReader() {
          public void read(Doc doc, byte[] dst, int off) throws IOException {
            ZipEntry e = zf.getEntry(doc.name());
            if (e == null) throw new IOException("entry " + doc.name() + " disappeared");
            try (InputStream in = zf.getInputStream(e)) {
              readExactly(in, doc, dst, off);
            }
          }

          public void close() throws IOException {
            zf.close();
          }
        };
      }
    };
  }

  private static Source folderSource(Path root, List<Doc> docs) {
    return new Source() {
      public List<Doc> docs() {
        return docs;
      }

      public DocReader newReader() {
        return new DocReader() {
          public void read(Doc doc, byte[] dst, int off) throws IOException {
            try (InputStream in = Files.newInputStream(root.resolve(doc.name()))) {
              readExactly(in, doc, dst, off);
            }
          }

          public void close() {}
        };
      }
    };
  }

  private static Source memorySource(List<Doc> docs, List<byte[]> texts) {
    Map<String, byte[]> byName = new HashMap<>();
    for (int i = 0; i < docs.size(); i++) byName.put(docs.get(i).name(), texts.get(i));
    return new Source() {
      public List<Doc> docs() {
        return docs;
      }

      public DocReader newReader() {
        return new DocReader() {
          public void read(Doc doc, byte[] dst, int off) {
            byte[] t = byName.get(doc.name());
            System.arraycopy(t, 0, dst, off, t.length);
          }

          public void close() {}
        };
      }
    };
  }

  private static void readExactly(InputStream in, Doc doc, byte[] dst, int off) throws IOException {
    int n = in.readNBytes(dst, off, (int) doc.size());
    if (n != doc.size() || in.read() >= 0) {
      throw new IOException(doc.name() + " changed size while loading (expected " + doc.size() + " bytes)");
    }
  }

  // ---- assembly ------------------------------------------------------------------------------------

  /**
   * Places and reads every doc of {@code src}; {@code what} names the source in errors, {@code prefix}
   * starts the description (the size and the split are appended).
   */
  static Corpus assemble(Source src, Object what, String prefix) {
    List<Doc> docs = src.docs();
    boolean byFile = docs.size() > Corpus.HOLDOUT_AT;
    long total = 0;
    long valBytes = 0;
    int valFiles = 0;
    for (int i = 0; i < docs.size(); i++) {
      long s = docs.get(i).size() + 1; // the file and its newline
      total += s;
      if (byFile && i % Corpus.HOLDOUT_EVERY == Corpus.HOLDOUT_AT) {
        valBytes += s;
        valFiles++;
      }
    }
    if (total > MAX_BYTES) throw Corpus.tooLarge(what, total);
    if (!byFile) valBytes = total / 100;
    int trainSize = (int) (total - valBytes);

    // Offsets: training files in order, then held-out files in order.
    long[] offsets = new long[docs.size()];
    long trainAt = 0;
    long valAt = byFile ? trainSize : 0;
    for (int i = 0; i < docs.size(); i++) {
      long s = docs.get(i).size() + 1;
      if (byFile && i % Corpus.HOLDOUT_EVERY == Corpus.HOLDOUT_AT) {
        offsets[i] = valAt;
        valAt += s;
      } else {
        offsets[i] = trainAt;
        trainAt += s;
      }
    }
    byte[] bytes = new byte[(int) total];
    fill(src, docs, offsets, bytes, what, total);

    String split = byFile
        ? count(valFiles, "whole file") + " (every " + Corpus.HOLDOUT_EVERY + "th, " + pct(valBytes, total)
            + " of the bytes) held out for validation"
        : "the last " + pct(valBytes, total) + " held out for validation";
    return new Corpus(bytes, trainSize, prefix + mb(total) + "; " + split);
  }

  private static void fill(Source src, List<Doc> docs, long[] offsets, byte[] bytes, Object what, long total) {
    int threads = total < (8 << 20) ? 1 : Math.min(THREADS, docs.size());
    AtomicInteger next = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Runnable work = () -> {
      try (DocReader r = src.newReader()) {
        for (int i; failure.get() == null && (i = next.getAndIncrement()) < docs.size(); ) {
          Doc d = docs.get(i);
          int off = (int) offsets[i];
          try {
            r.read(d, bytes, off);
          } catch (IOException e) {
            throw new IOException(d.name() + ": " + e.getMessage(), e);
          }
          bytes[off + (int) d.size()] = '\n';
        }
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      }
    };
    List<Thread> started = new ArrayList<>();
    for (int t = 1; t < threads; t++) started.add(Thread.ofPlatform().name("weft-corpus-" + t).start(work));
    work.run();
    for (Thread t : started) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while loading the corpus", e);
      }
    }
    Throwable f = failure.get();
    if (f instanceof IOException e) {
      throw new WeftInputException("Could not read " + what + ": " + e.getMessage() + ". The file may be "
          + "corrupt or have changed while loading; check it and try again.", e);
    }
    if (f instanceof RuntimeException e) throw e;
    if (f instanceof Error e) throw e;
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private static long fileSize(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw unreadable(p, e);
    }
  }

  private static WeftInputException unreadable(Path p, IOException e) {
    String why = e instanceof AccessDeniedException ? "permission denied" : e.getMessage();
    return new WeftInputException("Could not read --data " + p + " (" + why + "). Make it readable or give "
        + "another path.", e);
  }

  static String count(long n, String noun) {
    return dev.weft.Counts.of(n, noun);
  }

  private static String mb(long bytes) {
    return bytes >= 10_000_000 ? String.format(Locale.ROOT, "%.0f MB", bytes / 1e6)
        : String.format(Locale.ROOT, "%.2f MB", bytes / 1e6);
  }

  private static String pct(long part, long whole) {
    return String.format(Locale.ROOT, "%.1f%%", 100.0 * part / Math.max(1, whole));
  }
}
