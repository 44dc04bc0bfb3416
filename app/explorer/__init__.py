"""The Streamlit explorer of a run (`psft app`): programs mapped in 2-D per checkpoint and layer, their
code, verdicts and neighbours, beside the pass@1 and transfer tables; alignment curves and CKA heatmaps.
`main.py` is the script Streamlit runs; the other modules are its parts. Not for: computing metrics.
"""
