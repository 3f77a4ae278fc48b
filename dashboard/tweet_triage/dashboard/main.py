"""The script Streamlit runs (`triage dashboard`): settings from TRIAGE_* variables, one backend per server process."""

from __future__ import annotations

import streamlit as st

from tweet_triage.dashboard.app import PageOptions, render
from tweet_triage.dashboard.backend import LiveBackend
from tweet_triage.settings import Settings, load_settings


@st.cache_resource
def _settings() -> Settings:
    return load_settings()


@st.cache_resource
def _backend() -> LiveBackend:
    return LiveBackend(_settings())


def main() -> None:
    dashboard = _settings().dashboard
    options = PageOptions(
        refresh_s=dashboard.refresh_s, feed_limit=dashboard.feed_limit, csv_max_rows=dashboard.csv_max_rows
    )
    render(_backend(), options)


main()
