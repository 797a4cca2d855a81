"""The PyTorch "Deep Learning for NLP" tutorial's data, kept verbatim as `--data tutorial`."""

LANGID_TRAIN = [
    ("SPANISH", "me gusta comer en la cafeteria"),
    ("ENGLISH", "Give it to me"),
    ("SPANISH", "No creo que sea una buena idea"),
    ("ENGLISH", "No it is not a good idea to get lost at sea"),
]
LANGID_TEST = [
    ("SPANISH", "Yo creo que si"),
    ("ENGLISH", "it is lost on me"),
]

# Shakespeare's Sonnet 2 (public domain), as the tutorial gives it.
SONNET_2 = """When forty winters shall besiege thy brow,
And dig deep trenches in thy beauty's field,
Thy youth's proud livery so gazed on now,
Will be a totter'd weed of small worth held:
Then being asked, where all thy beauty lies,
Where all the treasure of thy lusty days;
To say, within thine own deep sunken eyes,
Were an all-eating shame, and thriftless praise.
How much more praise deserv'd thy beauty's use,
If thou couldst answer 'This fair child of mine
Shall sum my count, and make my old excuse,'
Proving his beauty by succession thine!
This were to be new made when thou art old,
And see thy blood warm when thou feel'st it cold.
"""
