#!/usr/bin/env bash
# Resolve the Delta Lake jars (conf/spark-jars/pom.xml) into a project-local folder, once, at install
# time, so Spark jobs, spark-submit and the tests need no network at run time.
#
#   scripts/spark_jars.sh OUT_DIR SPARK_JARS_DIR
#
# Jars whose artifact Spark already ships (SPARK_JARS_DIR: pyspark's jars/) are dropped: Spark's own
# copy is the one on the classpath anyway, and a second Hadoop or Parquet only adds conflicts.
set -euo pipefail
out=$1
spark_jars=$2
here=$(cd "$(dirname "$0")/.." && pwd)
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mvn --batch-mode --quiet -f "$here/conf/spark-jars/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$staging"
artifact() { basename "$1" .jar | sed -E 's/-[0-9][^-]*(-[A-Za-z0-9.]+)?$//'; }
shipped=$(for jar in "$spark_jars"/*.jar; do artifact "$jar"; done | sort -u)
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
kept=0
for jar in "$staging"/*.jar; do
    if ! grep -qxF "$(artifact "$jar")" <<<"$shipped"; then
        cp "$jar" "$out.tmp/" && kept=$((kept + 1))
    fi
done
rm -rf "$out" && mv "$out.tmp" "$out"
echo "spark_jars: $kept jars in $out ($(du -sh "$out" | cut -f1))"
