# Categories, articles with translations and revisions, feedback and
# deflection arrive with the knowledge-base issue.
