"""Learning from behaviour: item factors from co-engagement (ALS on Spark), the text -> factors
mapping that places items nobody engaged with yet, the retrieval space that joins behaviour and
text, recency decay and the fold-in of fresh events, and the nightly time-split tuning."""
