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
    assert Results({"k": ["https://s3.test"]}).files() == [("k", "https://s3.test", "s3.test")]
    assert Results({}).files() == []
