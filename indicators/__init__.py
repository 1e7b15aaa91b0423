"""Drug-treatment postcode-lottery indicators: fetch, build, statistics, queries, charts, downloads."""
