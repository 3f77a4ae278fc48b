"""The relief dashboard (`triage dashboard`, Streamlit): what matters now, why the model thinks so, and "wrong".

* :mod:`.views` — plain logic (filters, counts over time, highlighted words, CSV checks), tested without Streamlit;
* :mod:`.backend` — where the data comes from: the ``predictions`` and ``alerts`` containers through the project's
  store code, and the scoring API for explanations, CSV checks and feedback (the dashboard holds no model and no
  broker credentials; its feedback goes through the API's authenticated ``/v1/feedback``);
* :mod:`.app` — the Streamlit page, a thin edge over both; :mod:`.main` is the script Streamlit runs.
"""
