from avatars.models import Results


def test_files_names_each_url_by_its_last_segment() -> None:
    results = Results(
        {"shuffled": ["https://s3.test/b/t.shuffled.csv"], "report": ["https://s3.test/b/", "https://s3.test/r/x.md"]},
        job_name="j",
    )
    assert results.files() == [
        ("shuffled", "https://s3.test/b/t.shuffled.csv", "t.shuffled.csv"),
        ("report", "https://s3.test/b/", "b"),
        ("report", "https://s3.test/r/x.md", "x.md"),
    ]
    # no path segment: the kind and the index name the file (the host never does)
    assert Results({"k": ["https://s3.test"]}).files() == [("k", "https://s3.test", "k-0")]
    assert Results({}).files() == []


def test_files_never_put_a_query_or_a_separator_in_a_name() -> None:
    signed = "https://s3.test/b/t.csv?X-Amz-Signature=deadbeef"
    results = Results({"../../x": ["https://s3.test/"], "/etc/passwd": ["s3://bucket"], "k": [signed]})
    names = [name for _, _, name in results.files()]
    assert names == ["_.._x-0", "_etc_passwd-0", "t.csv"]
    assert Results({"k": ["https://s3.test/a/..%2F..%2Fetc%2Fpasswd"]}).files()[0][2] == "passwd"
    assert Results({"k": ["https://s3.test/%2e%2e"]}).files()[0][2] == "k-0"


def test_files_of_one_job_are_distinct() -> None:
    results = Results({"a": ["https://s3.test/1/t.csv", "https://s3.test/2/T.CSV"], "b": ["https://s3.test/3/t.csv"]})
    assert [name for _, _, name in results.files()] == ["t.csv", "T-2.CSV", "t-3.csv"]


def test_names_of_access_urls_come_from_the_location_they_carry() -> None:
    """The platform lists result files as ``<base>/access?url=s3://...``: the
    name is the location's last segment, not ``access``."""
    base = "https://avatar.test/api/access?url="
    results = Results(
        {
            "shuffled": [base + "s3://avatars/users/u/results/j/shuffled.csv"],
            "report": [base + "s3%3A%2F%2Favatars%2Fusers%2Fu%2Fresults%2Fj%2Freport.pdf"],
            "wrapped": [base + "https%3A%2F%2Favatar.test%2Fapi%2Faccess%3Furl%3Ds3%3A%2F%2Fb%2Fk%2Fdeep.json"],
            "hostile": [base + "s3://avatars/users/u/..%2F..%2Fetc%2Fpasswd", base + "s3://b/..%252F..%252Fetc"],
            "bare": [base + "s3://avatars/"],
        }
    )
    assert [name for _, _, name in results.files()] == [
        "shuffled.csv",
        "report.pdf",
        "deep.json",
        "passwd",  # the query decodes to .../../../etc/passwd: its last segment
        "etc",  # decoded, then cut at its last separator
        "bare-0",
    ]
