"""The top floor: the `psft` command line, the pipeline and run-directory layout, the report and explorer."""
