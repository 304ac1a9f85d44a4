# Sourced by bench scripts that run measurement programs from replicakv-cli's test classes: compiles
# them (offline when the local repository has everything, else online) and sets $test_cp to the
# module's classes, test classes and test-scope dependencies. Needs $root.
. "$root/bin/find-java.sh"
JAVA_HOME="$(replicakv_find_java)" || { echo "needs a JDK >= 21" >&2; exit 1; }
export JAVA_HOME
cp_file="$(mktemp)"
(cd "$root" && { ./mvnw -B -q -o test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$cp_file" -pl replicakv-cli -am >&2 \
  || ./mvnw -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$cp_file" -pl replicakv-cli -am >&2; })
test_cp="$root/replicakv-cli/target/classes:$root/replicakv-cli/target/test-classes:$(cat "$cp_file")"
rm -f "$cp_file"
test_java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED)
[ "$(replicakv_java_major "$JAVA_HOME")" -ge 24 ] && test_java+=(--sun-misc-unsafe-memory-access=allow)
true
