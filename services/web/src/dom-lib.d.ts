// The page is compiled on its own (services/web/tsconfig.json, lib DOM). The repository-wide type check and lint
// (tsconfig.json at the root) include services/*/src too; this brings the DOM types into that program.
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
