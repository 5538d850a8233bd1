"""What a run tells its reader: the report and its verdict policy, each format written to its destination (`emit`,
`output`, `streams`), the progress line, `explain`, and the offline `diff` and `merge`."""
