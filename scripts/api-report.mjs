#!/usr/bin/env node
// Checks (default, CI) or rewrites (--local) the API report of every entry point of every package:
// one API Extractor config per entry point, libs/<x>/api-extractor[.<subpath>].json, each report in
// libs/<x>/etc/. Reads the built declarations: run after `npm run build` (npm run api:check does).
// In check mode a report that differs from the build fails, naming the file to update.
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import apiExtractor from '@microsoft/api-extractor';

const { Extractor, ExtractorConfig } = apiExtractor;
const localBuild = process.argv.includes('--local');
const configs = readdirSync('libs', { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((entry) =>
    readdirSync(join('libs', entry.name))
      .filter((file) => /^api-extractor(\.[a-z-]+)?\.json$/.test(file))
      .map((file) => join('libs', entry.name, file)),
  )
  .sort();

const failed = [];
for (const path of configs) {
  const config = ExtractorConfig.loadFileAndPrepare(path);
  if (localBuild) mkdirSync(join(dirname(path), 'etc'), { recursive: true });
  const result = Extractor.invoke(config, { localBuild, showVerboseMessages: false });
  if (result.succeeded) {
    console.log(`api: ${path} ${result.apiReportChanged ? (localBuild ? 'report updated' : 'changed') : 'unchanged'}`);
  } else {
    failed.push(path);
    console.error(`api: ${path}: ${result.apiReportChanged ? `the public API differs from its report in ${join(dirname(path), 'etc')}` : 'API Extractor failed'} (${result.errorCount} errors, ${result.warningCount} warnings)`);
  }
}
if (failed.length > 0) {
  console.error(
    localBuild
      ? `api: ${failed.length} entry point(s) failed; see the messages above.`
      : `api: ${failed.length} report(s) out of date. If the change is intended, run \`npm run api:update\` and commit libs/*/etc/*.api.md.`,
  );
  process.exit(1);
}
