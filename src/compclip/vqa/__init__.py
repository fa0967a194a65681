"""LMM analysis: VQA accuracy of LLaVA against the PMI of each question's concepts (``compclip vqa-pmi``)."""
