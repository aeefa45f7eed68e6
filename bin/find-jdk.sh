# Sourced by the launcher scripts: sets (and exports) WEFT_JAVA_HOME and JAVA_HOME to a JDK 25, or exits with a
# clear message.
# Looks at JAVA_HOME first, then the Temurin path these machines use.
weft_jdk_version() {
  "$1/bin/java" -version 2>&1 | head -1 | sed -E 's/.*version "([0-9]+).*/\1/'
}
WEFT_JAVA_HOME=""
for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/java-25-openjdk-amd64; do
  if [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] \
     && [ "$(weft_jdk_version "$candidate")" = "25" ]; then
    WEFT_JAVA_HOME="$candidate"
    break
  fi
done
if [ -z "$WEFT_JAVA_HOME" ]; then
  echo "weft: no JDK 25 found. Set JAVA_HOME to a JDK 25 (for example Temurin 25 at" >&2
  echo "      /usr/lib/jvm/temurin-25-jdk-amd64) and try again. JAVA_HOME is now '${JAVA_HOME:-unset}'." >&2
  exit 1
fi
export WEFT_JAVA_HOME
export JAVA_HOME="$WEFT_JAVA_HOME"
